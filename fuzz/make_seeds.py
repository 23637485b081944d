#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into fuzz/seeds/<target>/: tiny hand-written examples
and small slices of the real files in ../shared/data (never whole files). Run from fuzz/:
    python3 make_seeds.py
`cargo fuzz cmin` then folds them into fuzz/corpus/<target>/."""
import gzip, io, os, struct, tarfile, zlib

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def png(w, h, pixels, color):
    """A PNG (gray or RGB, 8-bit) of `pixels` (rows of bytes), written by hand."""
    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2 if color else 0, 0, 0, 0)
    raw = b"".join(b"\0" + r for r in pixels)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


# --- architecture strings
nb201 = [l.split(",")[1] for l in open(os.path.join(DATA, "nb201", "nb201.csv")).read().splitlines()[1:4]]
for i, a in enumerate(nb201):
    put("nb201_arch", f"real{i}", a)
put("nb201_arch", "bad_op", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")
put("nb201_arch", "bad_input", "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|")
put("nb201_arch", "two_groups", "|none~0|+|none~0|none~1|")

V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
      "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), "
      "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
      "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))")
put("darts_genotype", "darts_v2", V2)
put("darts_genotype", "grouped", "Genotype(normal=[[('sep_conv_3x3', 1), ('sep_conv_3x3', 0)], [('skip_connect', 2), "
    "('sep_conv_3x3', 0)]], normal_concat=range(2, 4), reduce=[[('max_pool_3x3', 0), ('max_pool_3x3', 1)], "
    "[('skip_connect', 2), ('max_pool_3x3', 1)]], reduce_concat=range(2, 4))")
put("darts_genotype", "concat_list", V2.replace("range(2, 6)", "[2, 3, 4, 5]"))
put("darts_genotype", "keywords_dq", V2.replace("'", '"'))
put("darts_genotype", "bad_input", V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 9)"))

put("chain_arch", "three", "conv_3x3-32-s1,sep_conv_5x5-64-s2,res_block_3x3-64-s1")
put("chain_arch", "one", "dil_conv_7x7-128-s2")
put("chain_arch", "attention", "conv_3x3-16-s1, attention_1x1-16-s1")
put("chain_arch", "bad", "conv_4x4-0-s3")

for i, u in enumerate(["memory:", ":memory:", "sqlite:///tmp/nascent.db", "sqlite://rel.db", "sqlite:x.db",
                       "nascent.db", "postgres://u@h/db", "s3://bucket/x", "  ", "sqlite://"]):
    put("storage_url", f"u{i}", u)

# --- the NB201 tables: a few rows of each
lines = open(os.path.join(DATA, "nb201", "nb201.csv")).read().splitlines()
put("nb201_table", "nb201_head", "\n".join(lines[:4]) + "\n")
lat = open(os.path.join(DATA, "nb201", "nb201_latency_ms.csv")).read().splitlines()
put("nb201_table", "latency_head", "\n".join(lat[:3]) + "\n")
put("nb201_table", "bad_number", lines[0] + "\n" + lines[1].replace(",85.", ",x5.") + "\n")

# --- IDX: the first 3 images and labels of MNIST t10k, plain and gzipped
for ds in ["mnist", "fashion-mnist"]:
    im = gzip.open(os.path.join(DATA, ds, "t10k-images-idx3-ubyte.gz")).read(16 + 3 * 784)
    lb = gzip.open(os.path.join(DATA, ds, "t10k-labels-idx1-ubyte.gz")).read(8 + 3)
    im = idx([3, 28, 28], im[16:])
    lb = idx([3], lb[8:])
    put("idx", f"{ds}_plain", struct.pack("<I", len(im)) + im + lb)
    gi, gl = gzip.compress(im, mtime=0), gzip.compress(lb, mtime=0)
    put("idx", f"{ds}_gz", struct.pack("<I", len(gi)) + gi + gl)
put("idx", "rgb_4d", struct.pack("<I", 4 + 16 + 12) + idx([1, 3, 2, 2], bytes(range(12))) + idx([1], b"\x07"))
put("idx", "tiny", struct.pack("<I", 4 + 12 + 4) + idx([1, 2, 2], b"\x00\x10\x20\x30") + idx([1], b"\x01"))
# issue 9: no images of huge sides (their size overflowed)
put("idx", "issue9_idx_huge_dims", struct.pack("<I", 4 + 16) + idx([0, 1 << 20, 1 << 20, 1 << 24], b"") + idx([0], b""))

# --- CIFAR batches: two records each, pixels from real images
jpgs = {}
with tarfile.open(os.path.join(DATA, "cifar10-jpg", "cifar10-jpg.tar.gz")) as t:
    for m in t:
        if m.isfile() and m.name.endswith(".jpg"):
            parts = m.name.split("/")
            key = (parts[0], parts[1])
            if len([k for k in jpgs if k[:2] == key]) < 2 and parts[1] in ("cat", "dog", "ship"):
                jpgs[(parts[0], parts[1], parts[2])] = t.extractfile(m).read()
        if len(jpgs) >= 12:
            break
px = bytes((i * 7) % 256 for i in range(3072))
put("cifar", "cifar10_two", b"\x00" + b"\x03" + px + b"\x09" + px[::-1])
put("cifar", "cifar100_two", b"\x01" + b"\x02\x63" + px + b"\x00\x00" + px[::-1])
put("cifar", "names", b"\x00airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n")

# --- CSV tables
put("csv_table", "iris", "sepal_length,sepal_width,petal_length,petal_width,label\n"
    "5.1,3.5,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n6.3,3.3,6.0,2.5,virginica\n")
put("csv_table", "numeric_last", "a,b,c\n1,2,0\n3,4,1\n-1e3, 2.5 ,1\n")
put("csv_table", "label_first", "label,x1,x2\n\"7\",0.5,1\n2,1,1\n")
put("csv_table", "bad", "a,b\n1,NaN\n1\n")
put("csv_table", "nb201_slice", "\n".join(l for l in lines[:4]) + "\n")
mn = gzip.open(os.path.join(DATA, "mnist", "t10k-images-idx3-ubyte.gz")).read(16 + 2 * 784)[16:]
put("csv_table", "mnist_rows", "label," + ",".join(f"p{i}" for i in range(784)) + "\n"
    + "7," + ",".join(str(b) for b in mn[:784]) + "\n2," + ",".join(str(b) for b in mn[784:]) + "\n")

# --- image folders (in-memory form) and tar archives
SEP = b"<<FILE>>"
digit = [mn[r * 28:(r + 1) * 28] for r in range(28)]
digit2 = [mn[784 + r * 28:784 + (r + 1) * 28] for r in range(28)]
g1, g2 = png(28, 28, digit, False), png(28, 28, digit2, False)
rgb = png(4, 3, [bytes(range(r * 12, r * 12 + 12)) for r in range(3)], True)
rgb2 = png(4, 3, [bytes(range(100 + r * 12, 112 + r * 12)) for r in range(3)], True)
small_jpgs = sorted(jpgs.items())
def folder(files):
    return SEP.join(p.encode() + b"\n" + b for p, b in files)
put("image_folder", "gray_png", folder([("seven/0.png", g1), ("two/0.png", g2), ("README.md", b"hi")]))
put("image_folder", "split_png", folder([("train/a/0.png", rgb), ("train/b/1.PNG", rgb2), ("test/a/2.png", rgb2)]))
put("image_folder", "jpg", folder([(f"{s}/{c}/{n}", b) for (s, c, n), b in small_jpgs[:4]]))
put("image_folder", "size_mismatch", folder([("a/0.png", g1), ("b/0.png", rgb)]))

def tar(files, gz):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for p, b in files:
            if p.endswith("/"):
                ti = tarfile.TarInfo(p.rstrip("/")); ti.type = tarfile.DIRTYPE; ti.mtime = 0
                t.addfile(ti)
                continue
            ti = tarfile.TarInfo(p); ti.size = len(b); ti.mtime = 0
            t.addfile(ti, io.BytesIO(b))
    raw = buf.getvalue()
    # tarfile pads to 10 KiB records; the 1 KiB end marker is enough
    end = raw.rstrip(b"\0")
    raw = end + b"\0" * ((-len(end)) % 512) + b"\0" * 1024
    return gzip.compress(raw, mtime=0) if gz else raw
put("tar_archive", "png_plain", tar([("train/", b""), ("train/seven/0.png", g1), ("train/two/0.png", g2),
                                     ("test/two/1.png", g2), ("README.md", b"x")], False))
put("tar_archive", "png_gz", tar([("a/0.png", rgb), ("b/0.png", rgb2)], True))
put("tar_archive", "jpg_gz", tar([(f"{s}/{c}/{n}", b) for (s, c, n), b in small_jpgs[:3]], True))


# issue 9: entries whose header claims 2^62 bytes (GNU base-256) or 8 GiB (were reserved up front)
def huge_entry(size_field):
    ti = tarfile.TarInfo("a/0.png"); ti.size = 10; ti.mtime = 0
    h = bytearray(ti.tobuf(format=tarfile.USTAR_FORMAT))[:512]
    h[124:136] = size_field
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h) + b"\x89PNG" + b"\0" * 508 + b"\0" * 1024
put("tar_archive", "issue9_tar_huge_entry_size", huge_entry(bytes([0x80]) + (1 << 62).to_bytes(11, "big")))
put("tar_archive", "issue9_tar_8g_entry_size", huge_entry(b"77777777777\0"))
