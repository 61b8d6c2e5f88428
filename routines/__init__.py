"""The routines' own domain: the reporter's receipt and feedback, and the indicators the
dashboard shows. The engine knows none of it; an installation gives the engine these
hooks (installation/services.py). Imports `engine`; the engine never imports it."""
