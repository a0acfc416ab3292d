"""The local embedded stack: moto as AWS, local Chromium, and the Lambda handlers invoked as Lambda would."""
