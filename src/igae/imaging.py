"""Images and videos shared by the phases: comparison grids (autoencoder evaluation figures, IG-AE training
dashboards), latent channels in grey, colour-mapped depth, labels, and GIF/MP4 writing (turntable videos)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from igae.io_utils import atomic_file


def comparison_grid(rows: list[torch.Tensor], columns: int = 8) -> Image.Image:
    """Stack image rows ([n, 3, H, W] in [0, 1], the first ``columns`` of each) into one picture, short rows
    padded with white."""
    strips = [torch.cat(list(row[:columns]), dim=-1) for row in rows]  # each [3, H, n*W]
    width = max(strip.shape[-1] for strip in strips)
    grid = torch.cat([torch.nn.functional.pad(s, (0, width - s.shape[-1]), value=1.0) for s in strips], dim=-2)
    return Image.fromarray(to_uint8_frame(grid))


def grey_channels(
    latent: torch.Tensor, low: torch.Tensor, high: torch.Tensor, columns: int, scale: int
) -> torch.Tensor:
    """Every channel of ``latent`` [C, h, w] as a grey tile, ``columns`` tiles a row, each upsampled ``scale``
    times (nearest: a latent pixel stays a visible square): -> [3, rows*h*scale, columns*w*scale] in [0, 1].

    ``low``/``high`` [C] map each channel to [0, 1]; fixed for a whole video (not per frame), so a channel's
    brightness means the same value in every frame."""
    channels, height, width = latent.shape
    rows = -(-channels // columns)
    values = ((latent - low[:, None, None]) / (high - low).clamp_min(1e-8)[:, None, None]).clamp(0, 1)
    values = torch.cat([values, torch.ones(rows * columns - channels, height, width)])  # blank tiles: white
    grid = values.view(rows, columns, height, width).permute(0, 2, 1, 3).reshape(rows * height, columns * width)
    grid = grid.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    return grid.expand(3, -1, -1)


def colour_mapped(values: torch.Tensor, low: float, high: float, name: str = "magma") -> torch.Tensor:
    """A matplotlib colour map (perceptually uniform by default) of ``values`` [h, w] scaled from [low, high]:
    -> [3, h, w] in [0, 1]."""
    from matplotlib import colormaps

    scaled = ((values - low) / max(high - low, 1e-8)).clamp(0, 1).numpy()
    return torch.from_numpy(colormaps[name](scaled)[..., :3]).float().permute(2, 0, 1)


def labelled(image: torch.Tensor, text: str, height: int = 14) -> torch.Tensor:
    """``image`` [3, H, W] with a white band of ``height`` pixels on top holding ``text`` (PIL's default font)."""
    from PIL import ImageDraw

    band = Image.new("RGB", (image.shape[-1], height), "white")
    ImageDraw.Draw(band).text((2, 1), text, fill=(0, 0, 0))
    top = torch.from_numpy(np.array(band)).permute(2, 0, 1).float() / 255
    return torch.cat([top, image], dim=1)


def to_uint8_frame(image: torch.Tensor) -> np.ndarray:
    """[3, H, W] in [0, 1] -> uint8 [H, W, 3] (one video frame)."""
    return np.ascontiguousarray((image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy())


def write_animation(frames: list[np.ndarray], path: Path, fps: int) -> None:
    """Write uint8 frames [H, W, 3] as a looping GIF (Pillow) or an MP4 (H.264, yuv420p, through imageio-ffmpeg,
    whose wheel carries the ffmpeg binary), by ``path``'s suffix; atomically (see :func:`igae.io_utils.atomic_file`).

    Both are byte-for-byte deterministic for the same frames: the GIF palette is computed from the frames, and
    the MP4 is encoded single-threaded without timestamps or encoder version tags in the metadata."""
    path = Path(path)
    if not frames:
        raise ValueError(f"no frames to write to '{path}'")
    with atomic_file(path) as tmp:
        if path.suffix == ".gif":
            images = [Image.fromarray(frame) for frame in frames]
            images[0].save(
                tmp, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
            )
        elif path.suffix == ".mp4":
            import imageio_ffmpeg

            height, width = frames[0].shape[:2]
            pad = (height % 2, width % 2)  # yuv420p needs even sizes
            writer = imageio_ffmpeg.write_frames(
                str(tmp), (width + pad[1], height + pad[0]), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                quality=None, macro_block_size=1,
                output_params=["-crf", "18", "-threads", "1", "-map_metadata", "-1", "-fflags", "+bitexact",
                               "-flags:v", "+bitexact"],
            )  # fmt: skip
            writer.send(None)
            for frame in frames:
                writer.send(np.ascontiguousarray(np.pad(frame, ((0, pad[0]), (0, pad[1]), (0, 0)), mode="edge")))
            writer.close()
        else:
            raise ValueError(f"'{path}': a video is written as .gif or .mp4")
