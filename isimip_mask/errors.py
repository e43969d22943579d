"""The exceptions isimip_mask raises; the page, the API and the CLI show their messages."""

import json
import math
import sys


class IsimipMaskError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(IsimipMaskError, ValueError):
    """Bad user input: every problem found, keyed by the field it belongs to.

    ``errors`` maps a field name (``bbox``, ``paths``, ``country``, ...) to a list of
    messages, the same shape the HTTP API answers with.
    """

    default_field = "request"  # the field a message without one is reported under

    def __init__(self, errors: dict[str, list[str]] | str, field: str | None = None):
        if isinstance(errors, str):
            errors = {field or self.default_field: [errors]}
        self.errors = {key: list(messages) for key, messages in errors.items()}
        super().__init__("; ".join(m for messages in self.errors.values() for m in messages))


class RegionError(InputError):
    """A region that cannot be built: bad box, unknown country, broken GeoJSON, ..."""


class DatasetError(InputError):
    """A dataset path that cannot be used: outside the data root, missing, not NetCDF, no grid.

    Raised by the file readers with what is wrong only; a request reports it under ``paths``.
    """

    default_field = "paths"


class ServiceError(IsimipMaskError):
    """A service the package depends on (Redis) is not available."""


class JobNotFound(IsimipMaskError, LookupError):
    """No job with this id (never submitted, or expired)."""


class Problems:
    """Collects problems per field so that validation can report all of them at once."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def extend(self, error: InputError) -> None:
        for field, messages in error.errors.items():
            for message in messages:
                self.add(field, message)

    def number(
        self, field_name: str, label: str, value, low: float, high: float, noun: str | None = None
    ) -> float | None:
        """Return value as a float inside [low, high], or None after adding a problem that names
        the value as ``<noun> <label>=<value>`` (``noun`` defaults to the field's name)."""
        noun = noun or field_name
        if isinstance(value, bool):  # JSON true/false are not numbers (float(True) would be 1.0)
            self.add(field_name, f"{noun} {label}={value!r} is not a number")
            return None
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            self.add(field_name, f"{noun} {label}={str(value)[:40]!r} is not a number")
            return None
        if not math.isfinite(number):
            self.add(field_name, f"{noun} {label}={value!r} is not a finite number")
        elif number < low:
            self.add(field_name, f"{noun} {label}={number} is below {low:g}")
        elif number > high:
            self.add(field_name, f"{noun} {label}={number} is above {high:g}")
        else:
            return number
        return None

    def raise_if_any(self, kind: type[InputError] = InputError) -> None:
        if self.errors:
            raise kind(self.errors)


def parse_json(text: str | bytes, field: str, what: str, kind: type = None):
    """JSON text read, or ``kind`` (default InputError) saying in this project's words what is
    wrong: not UTF-8, where the syntax breaks, a number too long, nesting too deep."""
    kind = kind or InputError
    try:
        return json.loads(text)
    except RecursionError:
        raise kind(
            f"{what} is nested too deep (objects and lists inside each other) to be read", field
        ) from None
    except UnicodeDecodeError:
        raise kind(f"{what} is not UTF-8 text", field) from None
    except json.JSONDecodeError as error:
        raise kind(f"{what} is not valid JSON (line {error.lineno}, column {error.colno})", field) from None
    except ValueError:  # the only other: an integer longer than Python reads
        limit = sys.get_int_max_str_digits()
        raise kind(f"{what} holds a number of more than {limit:,} digits", field) from None
