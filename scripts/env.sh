# Source this file: it makes sure the PyTorch 2.11.0 virtual environment that libtorch comes
# from exists (installing it once, about 4.7 GB), and exports what the build and the binaries need.
#
#   NASCENT_TORCH_VENV   where the environment lives (default: ~/.cache/nascent/torch-venv,
#                        outside the clone so that it is reused by every clone and CI run)
NASCENT_TORCH_VENV="${NASCENT_TORCH_VENV:-$HOME/.cache/nascent/torch-venv}"
export NASCENT_TORCH_VENV
if ! "$NASCENT_TORCH_VENV/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.11.0') else 1)" 2>/dev/null; then
    echo "nascent: installing torch 2.11.0 into $NASCENT_TORCH_VENV (once; about 4.7 GB)" >&2
    mkdir -p "$(dirname "$NASCENT_TORCH_VENV")"
    python3 -m venv "$NASCENT_TORCH_VENV" >&2 || return 1 2>/dev/null || exit 1
    "$NASCENT_TORCH_VENV/bin/pip" install --quiet torch==2.11.0 numpy >&2 || return 1 2>/dev/null || exit 1
fi
# onnxruntime and onnx: the real ONNX runtime that checks nascent's ONNX export in the tests.
if ! "$NASCENT_TORCH_VENV/bin/python" -c "import onnxruntime, onnx" 2>/dev/null; then
    echo "nascent: installing onnxruntime and onnx into $NASCENT_TORCH_VENV (once; about 60 MB)" >&2
    "$NASCENT_TORCH_VENV/bin/pip" install --quiet onnxruntime==1.32.0 onnx==1.23.2 >&2 || return 1 2>/dev/null || exit 1
fi
export LIBTORCH_USE_PYTORCH=1
export PATH="$NASCENT_TORCH_VENV/bin:$PATH"
NASCENT_TORCH_LIB="$("$NASCENT_TORCH_VENV/bin/python" -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")"
export NASCENT_TORCH_LIB
export LD_LIBRARY_PATH="$NASCENT_TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Fashion-MNIST (the main job's default dataset): Debian's package where apt is at hand, once.
# Best effort: without it nascent downloads the files from the dataset's home (with checksums).
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] \
    && [ -z "${NASCENT_NO_APT:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "nascent: installing Debian's dataset-fashion-mnist (once)" >&2
    { apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; }; } \
        || echo "nascent: could not install dataset-fashion-mnist; nascent will download Fashion-MNIST itself" >&2
fi
# PostgreSQL (the tests of the PostgreSQL storage start throwaway servers of it): Debian's
# package where apt is at hand, once. Without it those tests skip (and fail with CI=true).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1 \
    && [ -z "${NASCENT_NO_APT:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "nascent: installing Debian's postgresql (once; for the storage tests)" >&2
    { apt-get install -y -q postgresql >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1; }; } \
        || echo "nascent: could not install postgresql; its storage tests will skip (fail with CI=true)" >&2
fi
