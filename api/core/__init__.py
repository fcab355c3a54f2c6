"""Settings, security primitives and errors shared by every route."""
