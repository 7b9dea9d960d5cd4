"""The subcommands of ``imu-hinge``: one module per subcommand (``imu_hinge.cli`` imports each when used);
shared option helpers in the private ``_*`` modules."""

__all__: list[str] = []
