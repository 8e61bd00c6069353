"""What every format shares: repositories, their assets, resolution, upstream caching, permissions, audit."""
