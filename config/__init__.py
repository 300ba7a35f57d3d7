"""Settings: `config/app.yaml` defaults plus environment overrides, as one frozen object."""
from config.settings import ConfigError, Section, load_settings
from config.secrets import secret

__all__ = ["ConfigError", "Section", "load_settings", "secret"]
