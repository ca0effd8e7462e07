"""Start `rasa run …` without one needless cost per message. Runs in the Rasa environment.

Rasa checks every action server response against its response schema with
`jsonschema.validate()`, which first checks the (constant) schema itself against the JSON Schema
meta-schema, on every call: measured with py-spy, that was almost half of the Rasa server's CPU
time per message. Here the validator is built once, so each response is still checked against
the schema, and the schema is no longer checked every time. Everything else is `rasa`'s own
command line: `python -m lotsen_rasa.server run --model … --endpoints …`.
"""

import sys
from typing import Any


def validate_once() -> None:
    """Make Rasa check action server responses with one validator built from its schema."""
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        try:
            validator.validate(result)
        except ValidationError as error:
            error.message += (
                ". Failed to validate Action server response from API, make sure your "
                "response from the Action endpoint is valid. For more information about "
                f"the format visit {DOCS_BASE_URL}/custom-actions"
            )
            raise
        return True

    RemoteAction._validate_action_result = validate_action_result


if __name__ == "__main__":
    from lotsen_rasa.startup import import_skops_first

    import_skops_first()
    validate_once()
    from lotsen_rasa.speedups import for_serving

    for_serving()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    main()
