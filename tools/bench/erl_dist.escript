#!/usr/bin/env escript
%% -*- erlang -*-
%%! -sname troupe_bench_a -setcookie troupe_bench
%% Erlang distribution between two nodes on this machine, for bench-node:
%% a process on node a sends N 256-byte binaries to a process on node b
%% (started with peer), which answers once it has them all; then 64-byte
%% ping-pongs.  Prints "msgs_per_s X" and "rt_us Y".  Argument: seconds.
main([T]) ->
    Secs = list_to_float(T ++ case lists:member($., T) of true -> ""; false -> ".0" end),
    {ok, Peer, Node} = peer:start_link(#{name => troupe_bench_b,
                                         args => ["-setcookie", "troupe_bench"]}),
    Sink = spawn(Node, fun() -> sink() end),
    Echo = spawn(Node, fun() -> echo() end),
    N0 = calibrate(Sink, 2000),
    Rate0 = thr(Sink, N0),
    N = max(1000, round(Rate0 * Secs)),
    Rate = thr(Sink, N),
    io:format("msgs_per_s ~.1f~n", [Rate]),
    Bin = binary:copy(<<0>>, 64),
    [rt(Echo, Bin) || _ <- lists:seq(1, 1000)],
    Ts = lists:sort([rt(Echo, Bin) || _ <- lists:seq(1, 4000)]),
    io:format("rt_us ~.1f~n", [lists:nth(2000, Ts)]),
    peer:stop(Peer);
main(_) ->
    main(["1"]).

calibrate(Sink, N) ->
    T0 = erlang:monotonic_time(microsecond),
    _ = thr(Sink, N),
    case erlang:monotonic_time(microsecond) - T0 of
        D when D < 200000 -> calibrate(Sink, N * 4);
        _ -> N
    end.

thr(Sink, N) ->
    Bin = binary:copy(<<0>>, 256),
    Sink ! {count, self(), N},
    T0 = erlang:monotonic_time(microsecond),
    send_n(Sink, Bin, N),
    receive {done, N} -> ok end,
    N / ((erlang:monotonic_time(microsecond) - T0) / 1.0e6).

send_n(_, _, 0) -> ok;
send_n(P, B, K) -> P ! B, send_n(P, B, K - 1).

sink() ->
    receive {count, From, N} -> count(From, N, 0) end.

count(From, N, N) -> From ! {done, N}, sink();
count(From, N, K) -> receive B when is_binary(B) -> count(From, N, K + 1) end.

echo() ->
    receive {From, B} -> From ! {self(), B}, echo() end.

rt(Echo, B) ->
    T0 = erlang:monotonic_time(nanosecond),
    Echo ! {self(), B},
    receive {Echo, _} -> ok end,
    (erlang:monotonic_time(nanosecond) - T0) / 1000.0.
