"""Data phase: cameras, 3D assets and procedural objects, CPU rendering, scene datasets, real images."""
