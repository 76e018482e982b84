"""Local development and `make run`: DEBUG off unless DEBUG=1, because `make run` is also what goes on a
classroom server, where Django's debug pages would list every URL pattern and setting."""
import os

from .base import *  # noqa: F401,F403
from .base import env_bool

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-do-not-use-in-production"
