#!/usr/bin/env bash
# Short, bounded libFuzzer runs over the parsers that see untrusted bytes (object names, metadata files,
# S3 XML pages, and the config/CR/Secret/kubeconfig/export documents, archives and pgBackRest manifests read by verify). Seeds come from Fuzz/corpus/<name>; what the fuzzer grows stays in .build-fuzz/corpus.
# A crash fails the run and leaves its input in .build-fuzz/artifacts/: turn it into a unit test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
targets=(${FUZZ_TARGETS:-names metadata-files s3-pages documents archives manifests})
scratch=.build-fuzz
mkdir -p "$scratch"
# Swift's own crash backtracer waits for a debugger-friendly exit that libFuzzer never gives; libFuzzer reports.
export SWIFT_BACKTRACE=enable=no
export DR_AUDIT_FUZZ=1
swift_bin="$(dirname "$(readlink -f "$(command -v swift)")")"
DR_AUDIT_LIBFUZZER="$(ls "$swift_bin"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-"$(uname -m)".a 2>/dev/null | head -1)"
[ -n "$DR_AUDIT_LIBFUZZER" ] || { echo "fuzz: libFuzzer (libclang_rt.fuzzer_no_main) not found next to $swift_bin" >&2; exit 1; }
export DR_AUDIT_LIBFUZZER
# (gold warns about every ASan helper symbol; those lines say nothing)
if ! swift build --scratch-path "$scratch" -c release --product fuzz-parsers >"$scratch/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$scratch/build.log" >&2
    echo "fuzz: fuzz-parsers did not build" >&2
    exit 1
fi
fuzzer="$(swift build --scratch-path "$scratch" -c release --show-bin-path)/fuzz-parsers"
status=0
for t in "${targets[@]}"; do
    mkdir -p "$scratch/corpus/$t" "$scratch/artifacts/$t"
    echo "fuzz: $t for ${seconds}s"
    if ! "$fuzzer" "$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$scratch/artifacts/$t/" "$scratch/corpus/$t" "Fuzz/corpus/$t" >"$scratch/fuzz-$t.log" 2>&1; then
        status=1
        echo "fuzz: $t FAILED; the input is in $scratch/artifacts/$t/, the log in $scratch/fuzz-$t.log:" >&2
        grep -E 'ERROR|runtime failure|Fatal error|Test unit written' "$scratch/fuzz-$t.log" | head -5 >&2
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$scratch/fuzz-$t.log" | sort -u | sed "s/^/fuzz: $t: /"
done
exit $status
