"""The one exception type for bad user input: it names the offending parameter."""


class InputError(ValueError):
    """Bad input. ``str(err)`` is a one-line message starting with the parameter name.

    The command line prints it as ``momentum-verify: error: <message>`` and exits with status 2.
    """

    def __init__(self, param: str, message: str):
        self.param = param
        super().__init__(f"{param}: {message}")
