#!/bin/sh
# Runs the libFuzzer targets for tests/fuzz/fuzz.mk.
#
#   run.sh run BUILD NAME MAX_LEN SECONDS
#       runs BUILD/NAME on BUILD/corpus/NAME (seeded from
#       tests/fuzz/corpus/NAME), prints one line and keeps it in
#       BUILD/results/NAME; exits 0 either way
#   run.sh summary BUILD NAME...
#       "fuzz: N passed, N failed"; exits 1 if any failed
#
# Run from the top of the tree.
set -u

run_one()
{
	build=$1 name=$2 maxlen=$3 secs=$4
	corpus=$build/corpus/$name
	log=$build/logs/$name.log
	result=$build/results/$name

	mkdir -p "$corpus" "$build/logs" "$build/results" "$build/artifacts"
	rm -f "$result"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
	fi
	start=$(date +%s)
	# Leaks are reported by libFuzzer itself (-detect_leaks=1, the
	# default with ASan); UBSan stops at the first report. The exit
	# statuses are those of tests/integration/sanitizers.py.
	ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:exitcode=86 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87 \
	"$build/$name" -max_total_time="$secs" -max_len="$maxlen" \
		-timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$name-" \
		"$corpus" >"$log" 2>&1
	rc=$?
	end=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		tail -n 1)
	line="$name: ${execs:-?} execs in $((end - start)) s"
	bad='ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:'
	if [ "$rc" -eq 0 ] && ! grep -qE "$bad|^SUMMARY: " "$log"; then
		echo "PASS $line" >"$result"
		echo "$line: ok"
	else
		echo "FAIL $line" >"$result"
		echo "$line: FAILED (exit $rc), see $log"
		grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error:|Test unit' \
			"$log" | head -n 8 | sed 's/^/    /'
	fi
	return 0
}

summary()
{
	build=$1
	shift
	pass=0 fail=0
	for name; do
		if grep -q '^PASS ' "$build/results/$name" 2>/dev/null; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
		fi
	done
	echo "fuzz: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

case ${1:-} in
run)
	shift
	run_one "$@"
	;;
summary)
	shift
	summary "$@"
	;;
*)
	echo "usage: $0 run BUILD NAME MAX_LEN SECONDS" >&2
	echo "       $0 summary BUILD NAME..." >&2
	exit 2
	;;
esac
