"""The MCP surface: the only package that imports the MCP SDK. Kept empty so that importing
the light modules (shell, gate) does not import the app: build_server lives in build.py."""
