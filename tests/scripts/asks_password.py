"""Asks for a secret with getpass, as a login to a model hub does ("from getpass import getpass")."""
from getpass import getpass

token = getpass("token: ")
print(f"got a token of {len(token)} characters")
