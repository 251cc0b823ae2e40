"""Bridges to engines headstart runs on but does not depend on (each an extra): ``ray``."""
