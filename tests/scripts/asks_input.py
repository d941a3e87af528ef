"""Asks a question with input() and answers with what it read."""
answer = input("your name? ")
print(f"hello {answer}")
