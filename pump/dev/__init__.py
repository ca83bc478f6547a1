"""For development, demos and tests: the embedded broker (``broker``) and synthetic rides (``synth``)."""
