import os

from hypothesis import HealthCheck, settings

# CI runs a reduced profile; `HYPOTHESIS_PROFILE=dev pytest -m slow` runs the long one.
settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
