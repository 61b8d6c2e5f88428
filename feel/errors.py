"""The one error FEEL raises: text that does not parse, or a name that is not there."""


class FeelError(ValueError):
    """Says what is wrong, where (the character it starts at) and in which text."""
