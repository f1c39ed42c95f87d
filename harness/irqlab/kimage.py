# SPDX-License-Identifier: GPL-2.0-or-later
"""
A Linux kernel image as a developer hands it to `irqlab run --kernel
PATH`: an x86 bzImage (arch/x86/boot/bzImage, /boot/vmlinuz-*) or the ELF
vmlinux of a build tree.  What the harness reads of it: its release (the
`uname -r` it will report, which names its modules) and, in a bzImage, the
compressed kernel inside it (for the configuration it may carry:
kconfig.py).

The bzImage's layout is the x86 boot protocol's setup header
(Documentation/arch/x86/boot.rst): "HdrS" at 0x202, setup_sects at 0x1f1
(0 means 4), kernel_version at 0x20e (a pointer to the version string,
less 0x200), payload_offset and payload_length at 0x248, the payload's
offset counted from the protected-mode code, (setup_sects + 1) * 512
bytes into the file.  A vmlinux carries the same version string in
linux_banner ("Linux version <release> ...", init/version-timestamp.c).
"""

import bz2
import lzma
import shutil
import struct
import subprocess
import zlib

ELF_MAGIC = b"\x7fELF"
HDRS = b"HdrS"
BANNER = b"Linux version "

# The payload's first bytes, per CONFIG_KERNEL_* (the kernel's
# scripts/extract-vmlinux and extract-ikconfig look for the same).
GZIP_MAGIC = b"\x1f\x8b\x08"
XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"
LZMA_MAGIC = b"\x5d\x00\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class ImageError(Exception):
    """Not a kernel image the harness can read."""


def is_bzimage(data: bytes) -> bool:
    return data[0x202:0x206] == HDRS


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


def release(data: bytes) -> str | None:
    """The kernel release (`uname -r`) of a bzImage or a vmlinux, None
    when the image names none."""
    if is_bzimage(data):
        ptr = struct.unpack_from("<H", data, 0x20e)[0]
        if ptr:
            start = ptr + 0x200
            end = data.find(b"\0", start)
            words = data[start:end].split()
            if words:
                return words[0].decode(errors="replace")
    at = data.find(BANNER)
    if at < 0:
        return None
    words = data[at + len(BANNER):at + len(BANNER) + 256].split()
    return words[0].decode(errors="replace") if words else None


def payload(data: bytes) -> bytes:
    """A bzImage's compressed kernel (the setup header's payload_offset
    and payload_length)."""
    sects = data[0x1f1] or 4
    off, length = struct.unpack_from("<II", data, 0x248)
    start = (sects + 1) * 512 + off
    return data[start:start + length]


def decompress(blob: bytes) -> bytes:
    """A bzImage's payload, uncompressed, by its magic: gzip, XZ, bzip2
    and LZMA through Python's own modules, zstd (Debian's kernels since
    6.12) through Debian's zstd command.  ImageError for the others
    (LZO, LZ4) and for a damaged stream."""
    try:
        if blob.startswith(GZIP_MAGIC):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)
        if blob.startswith(XZ_MAGIC):
            return lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(blob)
        if blob.startswith(BZIP2_MAGIC):
            return bz2.BZ2Decompressor().decompress(blob)
        if blob.startswith(LZMA_MAGIC):
            return lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(blob)
    except (zlib.error, lzma.LZMAError, OSError) as e:
        raise ImageError(f"the compressed kernel does not decompress: {e}")
    if blob.startswith(ZSTD_MAGIC):
        if shutil.which("zstd") is None:
            raise ImageError("the compressed kernel is zstd and the zstd "
                             "command is missing (Debian's zstd package)")
        # The kernel's zstd22_with_size appends the 4-byte uncompressed
        # size after the frame: decompress the frame only.
        out = subprocess.run(["zstd", "-dcq"], input=blob[:-4],
                             capture_output=True)
        if out.returncode != 0:
            raise ImageError("the compressed kernel does not decompress: "
                             + out.stderr.decode(errors="replace").strip())
        return out.stdout
    raise ImageError(f"the compressed kernel's format is not one the "
                     f"harness reads (magic {blob[:6].hex()})")
