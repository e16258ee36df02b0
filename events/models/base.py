"""What every model of the app builds on: constraint messages on their fields, versions that
refuse a stale write, and the limit of a free text."""

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q


def connection_vendor(alias):
    from django.db import connections

    return connections[alias].vendor


def choices_constraint(field, choices, model_name):
    """A CheckConstraint that keeps `field` within `choices`: choices alone stop no bad write."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__in": choices.values}),
        name=f"{model_name}_{field}_valid",
        violation_error_message=f"{field.replace('_', ' ').capitalize()} must be one of: "
        + ", ".join(choices.values)
        + ".",
    )


class ConstraintErrorsOnFields(models.Model):
    """Report each named constraint's message on the field it is about, not as a form-wide error.

    `constraint_fields` maps a constraint name to that field; the admin and the API then show
    the constraint's own message next to the field.
    """

    constraint_fields: dict[str, str] = {}

    class Meta:
        abstract = True

    @classmethod
    def constraint_message(cls, name):
        """The message of the named constraint, for a door that checks its rule field by field
        before the model does (the admin's form fields, the API's)."""
        return next(str(c.violation_error_message) for c in cls._meta.constraints if c.name == name)

    def validate_constraints(self, exclude=None):
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            field_of = {
                str(constraint.violation_error_message): self.constraint_fields[constraint.name]
                for constraint in self._meta.constraints
                if constraint.name in self.constraint_fields
            }
            errors = {}
            for field, messages in error.message_dict.items():
                for message in messages:
                    errors.setdefault(field_of.get(message, field), []).append(message)
            raise ValidationError(errors) from error


class ConcurrentEditError(Exception):
    """Raised when a record is saved from a copy older than the stored one."""

    def __init__(self, record, stored_version):
        self.record = self.event = record
        self.stored_version = stored_version
        super().__init__(
            f"The {record._meta.verbose_name} “{record}” was changed by someone else since it "
            f"was opened (your copy is version {record.version}, the stored one is version "
            f"{stored_version})."
        )


class Versioned(models.Model):
    """A record whose every save states the version it was based on.

    `save()` raises the stored version by one only if it still equals this copy's: of two
    writers who read the same version, the second to save gets a ConcurrentEditError and
    nothing of theirs is written. The check and the write happen in one transaction.
    """

    version = models.PositiveIntegerField(
        default=1,
        db_default=1,
        editable=False,
        help_text="Raised on every save; guards against lost updates.",
    )

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self._state.adding or self.pk is None:
            return super().save(*args, **kwargs)
        using = kwargs.get("using") or "default"
        with transaction.atomic(using=using):
            manager = type(self)._base_manager.using(using)
            bumped = manager.filter(pk=self.pk, version=self.version).update(
                version=F("version") + 1
            )
            if not bumped:
                stored = manager.filter(pk=self.pk).values_list("version", flat=True).first()
                raise ConcurrentEditError(self, stored)
            self.version += 1
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "version"}
            return super().save(*args, **kwargs)


# The longest free text (an event's summary and quoted words, a citation's note), in
# characters: generous for prose, and it keeps an event's search document well under
# PostgreSQL's 1 MB limit for a tsvector. The admin, the API and the import refuse a longer
# text with the validator's message, so whatever is stored exports and imports back.
TEXT_MAX_LENGTH = 100_000
