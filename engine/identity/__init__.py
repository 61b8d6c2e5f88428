"""Identity: users, their groups and passwords (`users`), and who may do what (`permissions`,
with the groups an installation names as its `Roles`). May import engine.errors and
engine.models, nothing above."""
