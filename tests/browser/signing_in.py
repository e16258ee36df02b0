"""Signing in to the admin in the browser, as the browser tests do."""

PASSWORD = "a-long-test-password"


def sign_in(page, base_url, username, password=PASSWORD):
    """Sign `username` in through the admin's login form, as a person does."""
    # The admin links no favicon; the browser asks for one anyway.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
