-- wrk: each connection waits 100 ms between scrapes, as a fleet of Prometheus servers would.
function delay()
    return 100
end
