#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noshell
%% erl_sup.escript -- Erlang/OTP's supervisor restart, the anchor for
%% tools/bench/bench-supervisor.c.  Prints name<TAB>value<TAB>unit lines:
%%   erl_sup_restart_kill_us, _p99_us  one_for_one supervisor, one permanent
%%       gen_server child; time from exit(Child, kill) to the replacement's
%%       init/1 running (stamped in init/1); median and p99 over N kills
%%       after 10 warm-ups.
%%   erl_sup_restarts_per_s  a child that stops with reason crash as soon
%%       as it has started (timeout 0 in init/1), restarted for ~2 s.
%% Usage: escript erl_sup.escript [N]
-mode(compile).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, start_worker/2]).

now_ns() -> erlang:monotonic_time(nanosecond).

out(Name, V, Unit) -> io:format("~s\t~.1f\t~s~n", [Name, float(V), Unit]).

%% This module is both the supervisor and the child gen_server.
init({sup, Tester, Mode}) ->
    {ok, {#{strategy => one_for_one, intensity => 1000000000, period => 1},
          [#{id => w, start => {?MODULE, start_worker, [Tester, Mode]},
             restart => permanent, shutdown => brutal_kill}]}};
init({worker, Tester, alive}) ->
    Tester ! {alive, self(), now_ns()},
    {ok, Tester};
init({worker, Tester, crash}) ->
    Tester ! {alive, self(), now_ns()},
    {ok, Tester, 0}.

start_worker(Tester, Mode) -> gen_server:start_link(?MODULE, {worker, Tester, Mode}, []).
handle_call(_, _, S) -> {reply, ok, S}.
handle_cast(_, S) -> {noreply, S}.
handle_info(timeout, S) -> {stop, crash, S}.

kill_loop(_, 0, Acc) -> Acc;
kill_loop(Pid, N, Acc) ->
    T0 = now_ns(),
    exit(Pid, kill),
    receive {alive, New, T1} -> kill_loop(New, N - 1, [T1 - T0 | Acc]) end.

restart_kill(N) ->
    {ok, Sup} = supervisor:start_link(?MODULE, {sup, self(), alive}),
    First = receive {alive, P0, _} -> P0 end,
    Samples = lists:sublist(lists:reverse(kill_loop(First, N + 10, [])), 11, N),
    unlink(Sup), exit(Sup, shutdown),
    S = lists:sort(Samples), L = length(S),
    out("erl_sup_restart_kill_us", lists:nth(L div 2 + 1, S) / 1000, "us"),
    out("erl_sup_restart_kill_p99_us", lists:nth(min(L, trunc(0.99 * L) + 1), S) / 1000, "us").

count_until(End, N, _Last) ->
    receive {alive, _, T} when T < End -> count_until(End, N + 1, T);
            {alive, _, T} -> {N, T}
    end.

sustained() ->
    process_flag(trap_exit, true),
    {ok, Sup} = supervisor:start_link(?MODULE, {sup, self(), crash}),
    T0 = receive {alive, _, T} -> T end,
    {N, T1} = count_until(T0 + 2000000000, 0, T0),
    unlink(Sup), exit(Sup, kill),
    out("erl_sup_restarts_per_s", N / ((T1 - T0) / 1.0e9), "restarts/s").

main(Args) ->
    logger:set_primary_config(level, none),
    N = case Args of [A | _] -> list_to_integer(A); [] -> 1000 end,
    restart_kill(N),
    sustained().
