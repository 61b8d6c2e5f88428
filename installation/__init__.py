"""One installation of Tiltak: its organisation, its demo users, the engine built for it,
and the JSON shape of a task that the command line and the web UI both give. Imports
`engine` and `forms`; both front ends (`tiltak`, `webui`) import it, never the reverse."""
