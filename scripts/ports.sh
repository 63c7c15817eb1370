# scripts/ports.sh (sourced): free loopback ports for a private stack.
#
#   free_port NAME LOW SPAN   a port in LOW .. LOW+SPAN-1 that nothing listens
#                             on, into the variable NAME, never one this shell
#                             picked before (every port of a stack is picked
#                             before any server binds, so ss alone cannot tell)
#
# The ranges stay below the kernel's ephemeral ports (32768 and up), so no
# outgoing connection takes a port between its pick and its server's bind:
# scripts/test.sh's lanes 20000 + 2000 N (N from 1), scripts/twonode.sh's
# shared stack 20000-21999, tests/scripts/install.sh 30000-32699,
# scripts/bench.sh 10000-19999.
PORTS_PICKED=" "
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( (RANDOM % $3) + $2 ))
        [[ $PORTS_PICKED == *" $p "* ]] && continue
        ss -Htan "( sport = :$p )" 2>/dev/null | grep -q . && continue
        PORTS_PICKED+="$p "
        printf -v "$1" '%s' "$p"
        return 0
    done
    return 1
}
