# Numbers for the benchmarks and the tests: median, percentile, ratio. lib.sh sources this
# file; a script that needs no sandbox (bench/cni-latency.sh) sources it alone. The
# functions read numbers one a line on stdin (blank lines are skipped), unless said otherwise.

# median < numbers: the middle one in order; for an even count, the mean of the two middle
# ones, as statistics defines it (1 2 3 4 -> 2.5). Nothing, and status 1, when there are none.
median() {
    sort -g | awk 'NF { v[++n] = $1 } END { if (!n) exit 1
        if (n % 2) print v[(n + 1) / 2]; else printf "%.15g\n", (v[n / 2] + v[n / 2 + 1]) / 2 }'
}

# percentile P < numbers: the P-th percentile by nearest rank, the ceil(N*P/100)-th number
# in order (at least the first): a number of the input, never an interpolation (of 1 2 3 4,
# P 50 is 2 and P 90 is 4). Nothing, and status 1, when there are none.
percentile() {
    sort -g | awk -v p="$1" 'NF { v[++n] = $1 } END { if (!n) exit 1
        r = n * p / 100; i = (r > int(r)) ? int(r) + 1 : int(r); if (i < 1) i = 1; print v[i] }'
}

# latency_row LABEL FILE: the markdown row "| LABEL | p50 | p90 |" of FILE's numbers (the
# benchmarks' latencies, in ms), one decimal each.
latency_row() {
    printf '| %s | %.1f | %.1f |\n' "$1" "$(percentile 50 <"$2")" "$(percentile 90 <"$2")"
}

# ratio A B: A / B to two decimals; "n/a" when either is not a number (missing, "err") or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { num = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
        if (a !~ num || b !~ num || b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}
