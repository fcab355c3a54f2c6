"""Benchmark the embedded node against raw py-evm, eth-tester and anvil on one ERC-20 workload.

Why this exists: the embedded node is py-evm plus a pool, a sealer, a LevelDB store and a
JSON-RPC server. The question is what that wrapping costs, whether the node carries the city's
payment peak (docs/workload.md: 0.5 payments/s for the life zone, 10/s for the whole city), and
whether a genesis the size of the whole city (400,000 funded accounts) slows it down. So every
engine runs exactly the same pre-signed transfers:

* ``node``       a real ``cityledger node`` subprocess over JSON-RPC (what users run);
* ``py-evm``     ``MiningChain.mine_all`` in process on an in-memory AtomicDB with the node's own
                 Prague VM class: the ceiling the node can at best reach (the reference engine);
* ``eth-tester`` ``EthereumTester(PyEVMBackend())`` through web3, one auto-mined block per tx:
                 what Python projects usually test against;
* ``anvil``      Foundry's Rust node over JSON-RPC: a fast non-Python yardstick.

Setup (deploy ``BenchToken``, fund the senders) is never timed. Every run is verified: all
receipts must have status 1 and every sender's and recipient's token balance must match what the
workload implies; a benchmark that loses or fails transactions exits non-zero.

Usage (``make bench`` runs the first)::

    python -m scripts.bench chain                   # full run (several minutes: 400k genesis)
    python -m scripts.bench chain --quick           # smoke run, well under a minute
    python -m scripts.bench chain --engines node,py-evm --txs 5000 --json bench.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_canonical_address

from cityledger.testing.accounts import CHAIN_ID, FUNDS, make_accounts
from cityledger.testing.processes import ANVIL, ROOT, AnvilProcess, NodeProcess, free_port, rpc
from ledger.node.config import Allocation, ChainParams, GenesisConfig
from scripts.bench._utils import BenchmarkError
from scripts.bench._utils.chain_plumbing import (
    RpcSession,
    SubmitPlan,
    chunks,
    erc20_balances,
    send_all,
    wait_for_receipts,
)
from scripts.bench._utils.district import (
    CITY_PEAK_TPS,
    CITY_RESIDENTS,
    LIFE_ZONE_MERCHANTS,
    LIFE_ZONE_PEAK_TPS,
    payment_amount,
)
from scripts.bench._utils.meters import RunStats
from scripts.bench._utils.reporting import (
    SECTION,
    Report,
    console,
    fmt,
    notes,
    print_table,
    ratio,
    verdict,
)
from scripts.bench._utils.tx import (
    balance_of_data,
    contract_address,
    distribute_data,
    label_addresses,
    sign,
    transfer_data,
    tx_hash,
)

TOKEN_ARTIFACT = ROOT / "tests" / "fixtures" / "contracts" / "BenchToken.json"
GENESIS_GAS_LIMIT = 1_000_000_000
"""The node's default: the sealer never fills half of it, so the base fee stays 0."""

TRANSFER_GAS = 60_000
DEPLOY_GAS = 2_000_000
DISTRIBUTE_CHUNK = 100
"""Senders funded per ``distribute`` tx: stays far below eth-tester's 30M block gas limit."""

TARGET_VS_PYEVM = 0.9
TARGET_VS_ETH_TESTER = 3.0
TARGET_SCALE_RATIO = 0.8

PAYMENT_SIGMA = 1.0
"""The spread of the payment amounts' log-normal (see district.payment_amount)."""

ENGINES = ("node", "py-evm", "eth-tester", "anvil")


# -- options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """Resolved command-line options (``--quick`` only changes the defaults)."""

    txs: int
    senders: int
    recipients: int
    seed: int
    batch: int
    clients: int
    rpc_batch: int
    poll_batch: int
    poll_interval: float
    block_period: float
    fsync: bool
    engines: tuple[str, ...]
    scale_accounts: tuple[int, ...]
    paced_rate: float
    paced_txs: int
    genesis_timeout: float
    run_timeout: float
    workdir: Path | None
    quick: bool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--txs", type=int, help="transfers per engine (default 2000, quick 200)")
    parser.add_argument(
        "--senders", type=int, help="distinct sending accounts (default 50, quick 20)"
    )
    parser.add_argument(
        "--recipients",
        type=int,
        help=f"merchant addresses paid at random (default {LIFE_ZONE_MERCHANTS:,}, the life "
        "zone's, docs/workload.md; quick 50)",
    )
    parser.add_argument("--seed", type=int, default=CHAIN_ID, help="PRNG seed for the workload")
    parser.add_argument(
        "--batch",
        type=int,
        default=500,
        help="txs per block: py-evm mine_all batch and the node's --max-batch",
    )
    parser.add_argument(
        "--clients", type=int, default=8, help="concurrent JSON-RPC client threads (node, anvil)"
    )
    parser.add_argument(
        "--rpc-batch",
        type=int,
        default=50,
        help="eth_sendRawTransaction calls per HTTP request (1 = no batching)",
    )
    parser.add_argument(
        "--poll-batch",
        type=int,
        default=100,
        help="receipts asked per eth_getTransactionReceipt batch",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.05,
        help="seconds between receipt polls while nothing new is mined",
    )
    parser.add_argument(
        "--block-period",
        type=float,
        default=0.1,
        help="the node's --block-period (its genesis default is 0.1)",
    )
    parser.add_argument(
        "--no-fsync",
        dest="fsync",
        action="store_false",
        help="run the node with --no-fsync (default: fsync every block)",
    )
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help=f"comma-separated subset of {', '.join(ENGINES)}",
    )
    parser.add_argument(
        "--scale-accounts",
        help=f"node runs with this many funded genesis accounts (default 1000,{CITY_RESIDENTS}"
        ", the whole city; quick 1000; empty to skip)",
    )
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=CITY_PEAK_TPS,
        help="also run the node at this steady rate (1 client, 1 tx/request) to measure the "
        "latency a payer sees at that load; 0 to skip (default: the whole-city peak, 10 tx/s)",
    )
    parser.add_argument(
        "--paced-txs", type=int, help="transfers in the paced run (default 100, quick 20)"
    )
    parser.add_argument(
        "--genesis-timeout",
        type=float,
        default=3600.0,
        help="seconds the node may take to build its genesis and start serving",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=None,
        help="seconds a timed run may take before it counts as lost txs",
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep node data and logs here (default: a temp dir, removed)"
    )


def resolve(args: argparse.Namespace) -> Options:
    """Fill defaults (quick or full) and reject nonsense before anything starts."""
    quick: bool = args.quick
    scale_text = args.scale_accounts
    if scale_text is None:
        scale_text = "1000" if quick else f"1000,{CITY_RESIDENTS}"
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = set(engines) - set(ENGINES)
    if unknown:
        raise BenchmarkError(f"unknown engines: {', '.join(sorted(unknown))}")
    txs = args.txs or (200 if quick else 2_000)
    senders = args.senders or (20 if quick else 50)
    if senders > txs:
        raise BenchmarkError("--senders must not exceed --txs")
    scale = tuple(int(x.replace("_", "")) for x in scale_text.split(",") if x.strip())
    if any(n < senders + 1 for n in scale):
        raise BenchmarkError("--scale-accounts values must cover the senders and the deployer")
    return Options(
        txs=txs,
        senders=senders,
        recipients=args.recipients or (50 if quick else LIFE_ZONE_MERCHANTS),
        seed=args.seed,
        batch=args.batch,
        clients=max(1, args.clients),
        rpc_batch=max(1, args.rpc_batch),
        poll_batch=max(1, args.poll_batch),
        poll_interval=args.poll_interval,
        block_period=args.block_period,
        fsync=args.fsync,
        engines=engines,
        scale_accounts=scale,
        paced_rate=max(0.0, args.paced_rate),
        paced_txs=args.paced_txs or (20 if quick else 100),
        genesis_timeout=args.genesis_timeout,
        run_timeout=args.run_timeout or max(120.0, txs / 5),
        workdir=args.workdir,
        quick=quick,
    )


def flood_plan(options: Options) -> SubmitPlan:
    return SubmitPlan(
        options.clients,
        options.rpc_batch,
        options.poll_batch,
        options.poll_interval,
        options.run_timeout,
    )


def paced_plan(options: Options) -> SubmitPlan:
    """One client, one tx per request, polled every 10 ms so latency is not quantized."""
    duration = options.paced_txs / options.paced_rate
    return SubmitPlan(
        1,
        1,
        options.poll_batch,
        min(options.poll_interval, 0.01),
        options.run_timeout + duration,
        options.paced_rate,
    )


# -- the workload -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Everything every engine runs, signed once so all engines see byte-identical txs."""

    deployer: LocalAccount
    senders: tuple[LocalAccount, ...]
    token: str
    setup_txs: tuple[bytes, ...]
    """Deploy, then ``distribute`` in chunks: the deployer's nonces 0, 1, 2, ..."""
    transfers: tuple[bytes, ...]
    """In submission order: round-robin over senders, so each sender's nonces ascend."""
    transfer_hashes: tuple[str, ...]
    expected_balances: dict[str, int]
    """Token balance of each sender, each paid recipient and the deployer after the run."""
    total_supply: int


def shares(total: int, parts: int) -> list[int]:
    """Split ``total`` transfers over ``parts`` senders as evenly as possible."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def build_workload(options: Options) -> Workload:
    """Draw the payments, then pre-sign setup and transfers (never inside a timed section)."""
    rng = random.Random(options.seed)
    deployer = make_accounts(1, "bench-deployer")[0]
    senders = tuple(make_accounts(options.senders, "bench-sender"))
    merchants = label_addresses("bench-merchant", options.recipients)
    token = contract_address(deployer.address, 0)
    plans = [
        [(rng.choice(merchants), payment_amount(rng, PAYMENT_SIGMA)) for _ in range(count)]
        for count in shares(options.txs, options.senders)
    ]
    amount_each = max(sum(amount for _, amount in plan) for plan in plans)
    supply = amount_each * len(senders)
    setup = _setup_txs(deployer, senders, supply, amount_each)
    transfers, expected = _transfer_txs(senders, plans, token, amount_each)
    expected[deployer.address] = 0
    return Workload(
        deployer=deployer,
        senders=senders,
        token=token,
        setup_txs=tuple(setup),
        transfers=tuple(transfers),
        transfer_hashes=tuple(tx_hash(raw) for raw in transfers),
        expected_balances=expected,
        total_supply=supply,
    )


def _setup_txs(
    deployer: LocalAccount, senders: Sequence[LocalAccount], supply: int, amount_each: int
) -> list[bytes]:
    artifact = json.loads(TOKEN_ARTIFACT.read_text())
    bytecode = bytes.fromhex(artifact["bytecode"].removeprefix("0x"))
    txs = [sign(deployer, 0, None, bytecode + abi_encode(["uint256"], [supply]), DEPLOY_GAS)]
    token = contract_address(deployer.address, 0)
    for nonce, start in enumerate(range(0, len(senders), DISTRIBUTE_CHUNK), start=1):
        chunk = [s.address for s in senders[start : start + DISTRIBUTE_CHUNK]]
        data = distribute_data(chunk, amount_each)
        txs.append(sign(deployer, nonce, token, data, 100_000 + 35_000 * len(chunk)))
    return txs


def _transfer_txs(
    senders: Sequence[LocalAccount],
    plans: Sequence[Sequence[tuple[str, int]]],
    token: str,
    amount_each: int,
) -> tuple[list[bytes], dict[str, int]]:
    expected: dict[str, int] = {s.address: amount_each for s in senders}
    transfers: list[bytes] = []
    for nonce in range(max(len(plan) for plan in plans)):
        for sender, plan in zip(senders, plans, strict=True):
            if nonce >= len(plan):
                continue
            recipient, amount = plan[nonce]
            transfers.append(
                sign(sender, nonce, token, transfer_data(recipient, amount), TRANSFER_GAS)
            )
            expected[sender.address] -= amount
            expected[recipient] = expected.get(recipient, 0) + amount
    return transfers, expected


def check_balances(workload: Workload, read_balance: Callable[[list[str]], list[int]]) -> None:
    """Compare every expected token balance (and their sum) with what the engine reports."""
    holders = list(workload.expected_balances)
    actual = dict(zip(holders, read_balance(holders), strict=True))
    wrong = {
        h: (actual[h], want) for h, want in workload.expected_balances.items() if actual[h] != want
    }
    if wrong:
        sample = dict(itertools.islice(wrong.items(), 5))
        raise BenchmarkError(f"{len(wrong)} token balances differ (got, want): {sample}")
    if sum(actual.values()) != workload.total_supply:
        raise BenchmarkError("token balances do not add up to the total supply")


# -- results ----------------------------------------------------------------------------------


@dataclass
class EngineResult:
    """A table row (and a JSON record)."""

    key: str
    engine: str
    txs: int = 0
    seconds: float | None = None
    tps: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    genesis_accounts: int | None = None
    startup_s: float | None = None
    genesis_file_s: float | None = None
    offered_tps: float | None = None
    """Set for steady-rate runs: their tx/s is the offered load, not a capacity."""
    note: str = ""
    skipped: str | None = None

    @classmethod
    def measured(cls, key: str, engine: str, stats: RunStats, **extra: Any) -> EngineResult:
        return cls(
            key=key,
            engine=engine,
            txs=stats.txs,
            seconds=stats.seconds,
            tps=stats.tps,
            p50_ms=stats.latency.p50,
            p95_ms=stats.latency.p95,
            **extra,
        )


# -- JSON-RPC engines (node, anvil) -------------------------------------------------------------


def rpc_setup(url: str, workload: Workload, timeout: float = 120.0) -> None:
    """Deploy the token and fund the senders with tokens (untimed), checking every receipt."""
    with RpcSession(url) as session:
        hashes = session.results(
            [("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in workload.setup_txs]
        )
        receipts = wait_for_receipts(session, hashes, timeout)
    failed = [r["transactionHash"] for r in receipts if int(r["status"], 16) != 1]
    if failed:
        raise BenchmarkError(f"setup transactions failed: {failed}")
    if str(receipts[0]["contractAddress"]).lower() != workload.token.lower():
        raise BenchmarkError(
            f"token deployed at {receipts[0]['contractAddress']}, not {workload.token}"
        )


def run_transfers(url: str, workload: Workload, plan: SubmitPlan) -> RunStats:
    """The timed part on a JSON-RPC engine, then every balance checked."""
    stats = send_all(url, workload.transfers, plan, workload.transfer_hashes)
    check_balances(workload, lambda holders: erc20_balances(url, workload.token, holders))
    return stats


# -- engine: the embedded node ------------------------------------------------------------------


def extra_addresses(count: int) -> Iterator[str]:
    """Cheap distinct addresses for genesis padding: no keys, just ``keccak(i)[-20:]``."""
    for i in range(count):
        yield "0x" + keccak(i.to_bytes(8, "big"))[-20:].hex()


def write_node_genesis(path: Path, workload: Workload, total_accounts: int | None) -> float:
    """Fund and allowlist the deployer and senders, pad ``alloc`` to ``total_accounts``;
    return the seconds spent (the big file is written as plain JSON, not through pydantic)."""
    started = time.perf_counter()
    funded = [workload.deployer, *workload.senders]
    genesis = GenesisConfig(
        config=ChainParams(chain_id=CHAIN_ID),
        gas_limit=GENESIS_GAS_LIMIT,
        alloc={a.address: Allocation(balance=FUNDS) for a in funded},
        allowlist=[a.address for a in funded],
    )
    document = genesis.to_json()
    padding = max(0, (total_accounts or 0) - len(funded))
    document["alloc"].update(
        {a: {"balance": "0xde0b6b3a7640000"} for a in extra_addresses(padding)}
    )
    path.write_text(json.dumps(document))
    return time.perf_counter() - started


def bench_node(
    options: Options,
    workload: Workload,
    workdir: Path,
    *,
    key: str,
    label: str,
    plan: SubmitPlan,
    total_accounts: int | None = None,
) -> EngineResult:
    """Start a fresh ``cityledger node``, set up untimed, time the transfers, verify."""
    run_dir = workdir / key
    run_dir.mkdir(parents=True)
    genesis_s = write_node_genesis(run_dir / "genesis.json", workload, total_accounts)
    extra = ["--block-period", str(options.block_period), "--max-batch", str(options.batch)]
    if not options.fsync:
        extra.append("--no-fsync")
    node = NodeProcess(run_dir / "genesis.json", run_dir / "data", free_port(), tuple(extra))
    try:
        if total_accounts and total_accounts > 50_000:
            notes(
                [
                    f"{label}: building a {total_accounts:,}-account genesis "
                    "(slow, see the startup column)..."
                ]
            )
        started = time.perf_counter()
        try:
            node.start(timeout=options.genesis_timeout)
        except RuntimeError as exc:
            raise BenchmarkError(f"{label} did not start (log: {node.log_path}): {exc}") from exc
        startup = time.perf_counter() - started
        rpc_setup(node.url, workload)
        stats = run_transfers(node.url, workload, plan)
        _check_node_healthy(node)
    finally:
        node.stop()
    return EngineResult.measured(
        key,
        label,
        stats,
        genesis_accounts=total_accounts or len(workload.senders) + 1,
        startup_s=startup,
        genesis_file_s=genesis_s,
        offered_tps=plan.rate,
        note=f"{stats.txs:,} txs, {plan.describe()}; genesis file written in {genesis_s:.1f} s",
    )


def _check_node_healthy(node: NodeProcess) -> None:
    response = httpx.get(f"{node.url}/health", timeout=10)
    if response.status_code != 200 or response.json().get("pending"):
        raise BenchmarkError(f"node unhealthy or still pending after the run: {response.text}")


# -- engine: anvil ------------------------------------------------------------------------------


def bench_anvil(options: Options, workload: Workload) -> EngineResult:
    if not ANVIL.exists():
        return EngineResult("anvil", "anvil", skipped=f"{ANVIL} missing (cd contracts && npm ci)")
    anvil = AnvilProcess(free_port(), CHAIN_ID)
    try:
        anvil.start()
        for account in (workload.deployer, *workload.senders):
            rpc(anvil.url, "anvil_setBalance", account.address, hex(FUNDS))
        rpc_setup(anvil.url, workload)
        plan = flood_plan(options)
        stats = run_transfers(anvil.url, workload, plan)
        version = str(rpc(anvil.url, "web3_clientVersion"))
    finally:
        anvil.stop()
    return EngineResult.measured(
        "anvil",
        "anvil",
        stats,
        note=f"{version}, automine; {plan.describe()}",
    )


# -- engine: raw py-evm ---------------------------------------------------------------------------


def pyevm_chain(workload: Workload) -> Any:
    """A MiningChain with the node's Prague VM class and the node's genesis header fields."""
    from eth.chains.base import MiningChain
    from eth.db.atomic import AtomicDB
    from eth.db.backends.memory import MemoryDB

    from ledger.node.config import DEFAULT_CONTRACT_SIZE_LIMIT
    from ledger.node.vm import build_chain_class

    node_chain = build_chain_class(CHAIN_ID, DEFAULT_CONTRACT_SIZE_LIMIT)
    chain_class = MiningChain.configure(
        __name__="BenchChain", vm_configuration=node_chain.vm_configuration, chain_id=CHAIN_ID
    )
    params: dict[str, Any] = {
        "difficulty": 0,
        "gas_limit": GENESIS_GAS_LIMIT,
        "timestamp": 0,
        "extra_data": b"",
        "coinbase": b"\x00" * 20,
        "nonce": b"\x00" * 8,
        "mix_hash": b"\x00" * 32,
        "base_fee_per_gas": 0,
    }
    return chain_class.from_genesis(AtomicDB(MemoryDB()), params, funded_state(workload))


def funded_state(workload: Workload) -> dict[Any, Any]:
    """The deployer and senders with ether for a genesis built in process (py-evm layout)."""
    return {
        to_canonical_address(a.address): {"balance": FUNDS, "nonce": 0, "code": b"", "storage": {}}
        for a in (workload.deployer, *workload.senders)
    }


def _pyevm_mine(chain: Any, raws: Sequence[bytes], batch: int) -> list[Any]:
    """Decode and mine ``raws`` in blocks of ``batch``; return the receipts."""
    builder = chain.get_vm().get_transaction_builder()
    receipts: list[Any] = []
    for chunk in chunks(raws, batch):
        _, block_receipts, _ = chain.mine_all([builder.decode(raw) for raw in chunk])
        receipts.extend(block_receipts)
    return receipts


def _pyevm_balances(chain: Any, token: str, holders: list[str]) -> list[int]:
    """``balanceOf`` by executing calls on the head state, as the node's eth_call does."""
    from eth.vm.spoof import SpoofTransaction

    values = []
    for holder in holders:
        vm = chain.get_vm()
        tx = vm.create_unsigned_transaction(
            nonce=0,
            gas_price=0,
            gas=1_000_000,
            to=to_canonical_address(token),
            value=0,
            data=balance_of_data(holder),
        )
        computation = vm.state.apply_transaction(SpoofTransaction(tx, from_=b"\x00" * 20))
        if computation.is_error:
            raise BenchmarkError(f"balanceOf({holder}) failed on py-evm: {computation.error}")
        values.append(int.from_bytes(computation.output, "big"))
    return values


def bench_pyevm(options: Options, workload: Workload) -> EngineResult:
    chain = pyevm_chain(workload)
    setup = _pyevm_mine(chain, workload.setup_txs[:1], 1) + _pyevm_mine(
        chain, workload.setup_txs[1:], options.batch
    )
    _require_success(setup, "setup")
    started = time.perf_counter()
    receipts = _pyevm_mine(chain, workload.transfers, options.batch)
    stats = RunStats(len(receipts), time.perf_counter() - started)
    _require_success(receipts, "transfer")
    check_balances(workload, lambda holders: _pyevm_balances(chain, workload.token, holders))
    blocks = -(-len(workload.transfers) // options.batch)
    return EngineResult.measured(
        "py-evm",
        "raw py-evm mine_all",
        stats,
        note=f"in process, in-memory AtomicDB, node's Prague VM; {options.batch} txs/block, decode "
        "included; "
        f"{stats.seconds / blocks * 1000:.0f} ms/block; no latency: no clients",
    )


def _require_success(receipts: Sequence[Any], what: str) -> None:
    failed = sum(1 for r in receipts if r.state_root != b"\x01")
    if failed:
        raise BenchmarkError(f"{failed} {what} transactions failed on py-evm")


# -- engine: eth-tester -------------------------------------------------------------------------


def bench_eth_tester(workload: Workload) -> EngineResult:
    """web3 + EthereumTesterProvider: raw txs one by one, each auto-mined into its own block.

    eth-tester makes its own genesis, so the deployer and senders are funded through its
    ``genesis_state``; the base fee is pinned to 0 so that free-gas txs are valid.
    """
    from eth_tester import EthereumTester, PyEVMBackend
    from eth_utils import to_checksum_address
    from web3 import EthereumTesterProvider, Web3

    params = {**PyEVMBackend.generate_genesis_params(), "base_fee_per_gas": 0}
    backend = PyEVMBackend(genesis_parameters=params, genesis_state=funded_state(workload))
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))
    for raw in workload.setup_txs:
        if w3.eth.get_transaction_receipt(w3.eth.send_raw_transaction(raw))["status"] != 1:
            raise BenchmarkError("setup transaction failed on eth-tester")
    latencies, failed = [], 0
    started = time.perf_counter()
    for raw in workload.transfers:
        sent = time.perf_counter()
        receipt = w3.eth.get_transaction_receipt(w3.eth.send_raw_transaction(raw))
        latencies.append((time.perf_counter() - sent) * 1000)
        failed += receipt["status"] != 1
    stats = RunStats(len(latencies), time.perf_counter() - started, latencies)
    if failed:
        raise BenchmarkError(f"{failed} transfers failed on eth-tester")

    def balances(holders: list[str]) -> list[int]:
        sender, token = workload.deployer.address, to_checksum_address(workload.token)
        return [
            int.from_bytes(
                w3.eth.call({"from": sender, "to": token, "data": balance_of_data(h)}), "big"
            )
            for h in holders
        ]

    check_balances(workload, balances)
    return EngineResult.measured(
        "eth-tester",
        "eth-tester",
        stats,
        note="web3 + EthereumTesterProvider, 1 auto-mined block per tx; sequential send + receipt",
    )


# -- report -------------------------------------------------------------------------------------


def _tps(result: EngineResult | None) -> float | None:
    return result.tps if result is not None else None


def summarize(results: list[EngineResult]) -> dict[str, Any]:
    """The ratios and target checks the table prints (and the JSON records)."""
    by_key = {r.key: r for r in results if r.skipped is None}
    node = _tps(by_key.get("node"))
    paced = by_key.get("node-paced")
    scale = [r for r in results if r.key.startswith("scale-") and r.skipped is None]
    return {
        "node_vs_pyevm": ratio(node, _tps(by_key.get("py-evm"))),
        "node_vs_eth_tester": ratio(node, _tps(by_key.get("eth-tester"))),
        "scale_ratio": ratio(scale[-1].tps, scale[0].tps) if len(scale) > 1 else None,
        "scale_from": scale[0].genesis_accounts if len(scale) > 1 else None,
        "scale_to": scale[-1].genesis_accounts if len(scale) > 1 else None,
        "node_covers_life_zone_peak": ratio(node, LIFE_ZONE_PEAK_TPS),
        "node_covers_city_peak": ratio(node, CITY_PEAK_TPS),
        "paced_rate": paced.offered_tps if paced else None,
        "paced_p50_ms": paced.p50_ms if paced else None,
        "paced_p95_ms": paced.p95_ms if paced else None,
    }


def render(results: list[EngineResult], summary: dict[str, Any], options: Options) -> None:
    by_key = {r.key: r for r in results if r.skipped is None}
    pyevm_tps = by_key["py-evm"].tps if "py-evm" in by_key else None
    tester_tps = by_key["eth-tester"].tps if "eth-tester" in by_key else None
    rows: list[list[str] | None] = []
    first_scale = True
    for result in results:
        if result.key.startswith("scale-") and first_scale:
            rows.append(SECTION)
            first_scale = False
        rows.append(_row(result, pyevm_tps, tester_tps))
    print_table(
        f"ERC-20 transfers: {options.txs:,} txs from {options.senders} senders to "
        f"{options.recipients:,} merchants",
        (
            "engine",
            "genesis accts",
            "startup s",
            "tx/s",
            "p50 ms",
            "p95 ms",
            "× py-evm",
            "× eth-tester",
            f"× {LIFE_ZONE_PEAK_TPS} tx/s",
            f"× {CITY_PEAK_TPS:.0f} tx/s",
        ),
        rows,
    )
    notes(
        [
            *(
                f"{result.engine}: "
                + (f"skipped: {result.skipped}" if result.skipped else result.note)
                for result in results
            ),
            f"× {LIFE_ZONE_PEAK_TPS} tx/s and × {CITY_PEAK_TPS:.0f} tx/s: how many times the "
            "life-zone and the whole-city evening payment peak (docs/workload.md) the "
            "throughput covers; startup s = process start to serving, which includes building "
            "the genesis state on first start",
        ]
    )
    _print_verdicts(summary)


def _row(result: EngineResult, pyevm_tps: float | None, tester_tps: float | None) -> list[str]:
    if result.skipped is not None:
        return [result.engine, *["—"] * 9]
    if result.offered_tps is not None:  # a steady-rate run measures latency, not capacity
        pyevm_tps = tester_tps = None
    return [
        result.engine,
        fmt(result.genesis_accounts, ","),
        fmt(result.startup_s, ".1f"),
        fmt(result.tps, ".1f"),
        fmt(result.p50_ms),
        fmt(result.p95_ms),
        fmt(ratio(result.tps, pyevm_tps), ".2f"),
        fmt(ratio(result.tps, tester_tps), ".2f"),
        *(
            ["—", "—"]
            if result.offered_tps is not None
            else [
                fmt(ratio(result.tps, LIFE_ZONE_PEAK_TPS), ",.0f", "×"),
                fmt(ratio(result.tps, CITY_PEAK_TPS), ",.1f", "×"),
            ]
        ),
    ]


def _print_verdicts(summary: dict[str, Any]) -> None:
    life, city = summary["node_covers_life_zone_peak"], summary["node_covers_city_peak"]
    if life is not None:
        console.print(
            f"node covers {life:,.0f}× the life-zone peak ({LIFE_ZONE_PEAK_TPS} tx/s) "
            f"and {city:,.1f}× the whole-city peak ({CITY_PEAK_TPS:.0f} tx/s)"
        )
    if summary["paced_rate"] is not None:
        console.print(
            f"node at a steady {summary['paced_rate']:g} tx/s: submit → receipt p50 "
            f"{fmt(summary['paced_p50_ms'])} ms, p95 {fmt(summary['paced_p95_ms'])} ms"
        )
    console.print(
        f"target node ≥ {TARGET_VS_PYEVM}× raw py-evm: "
        f"{fmt(summary['node_vs_pyevm'], '.2f')}× "
        f"{verdict(summary['node_vs_pyevm'], TARGET_VS_PYEVM)}"
    )
    console.print(
        f"target node ≥ {TARGET_VS_ETH_TESTER:.0f}× eth-tester: "
        f"{fmt(summary['node_vs_eth_tester'], '.2f')}× "
        f"{verdict(summary['node_vs_eth_tester'], TARGET_VS_ETH_TESTER)}"
    )
    if summary["scale_ratio"] is not None:
        console.print(
            f"target node at {summary['scale_to']:,} accounts ≥ {TARGET_SCALE_RATIO}× "
            f"at {summary['scale_from']:,}: {summary['scale_ratio']:.2f}× "
            f"{verdict(summary['scale_ratio'], TARGET_SCALE_RATIO)}"
        )


# -- main ---------------------------------------------------------------------------------------


def planned_runs(
    options: Options, workload: Workload, workdir: Path
) -> list[Callable[[], EngineResult]]:
    """The runs in order; engines run one after another, never together (2 cores)."""
    flood = flood_plan(options)
    runs: list[Callable[[], EngineResult]] = []
    if "node" in options.engines:
        runs.append(
            lambda: bench_node(
                options, workload, workdir, key="node", label="node (JSON-RPC)", plan=flood
            )
        )
        if options.paced_rate > 0:
            runs.append(lambda: _paced_node_run(options, workdir))
    if "py-evm" in options.engines:
        runs.append(lambda: bench_pyevm(options, workload))
    if "eth-tester" in options.engines:
        runs.append(lambda: bench_eth_tester(workload))
    if "anvil" in options.engines:
        runs.append(lambda: bench_anvil(options, workload))
    runs.extend(_scale_run(options, workload, workdir, n) for n in options.scale_accounts)
    return runs


def _paced_node_run(options: Options, workdir: Path) -> EngineResult:
    """A fresh node at a steady rate: saturation latency says little about what a payer waits."""
    paced = replace(
        options,
        txs=options.paced_txs,
        senders=min(options.senders, options.paced_txs),
        seed=options.seed + 1,
    )
    return bench_node(
        paced,
        build_workload(paced),
        workdir,
        key="node-paced",
        label=f"node, steady {options.paced_rate:g} tx/s",
        plan=paced_plan(options),
    )


def _scale_run(
    options: Options, workload: Workload, workdir: Path, accounts: int
) -> Callable[[], EngineResult]:
    return lambda: bench_node(
        options,
        workload,
        workdir,
        key=f"scale-{accounts}",
        label=f"node @ {accounts:,} accounts",
        plan=flood_plan(options),
        total_accounts=accounts,
    )


def run_all(options: Options, workload: Workload, workdir: Path) -> list[EngineResult]:
    results = []
    for run in planned_runs(options, workload, workdir):
        started = time.perf_counter()
        result = run()
        console.print(
            f"{result.engine}: {fmt(result.tps, '.1f')} tx/s "
            f"({time.perf_counter() - started:.1f} s with setup and checks)"
        )
        results.append(result)
    return results


def run(args: argparse.Namespace) -> Report:
    options = resolve(args)
    signing = time.perf_counter()
    workload = build_workload(options)
    console.print(
        f"signed {len(workload.setup_txs) + len(workload.transfers):,} txs in "
        f"{time.perf_counter() - signing:.1f} s (untimed)"
    )
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="bench-chain-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        results = run_all(options, workload, workdir)
    except BenchmarkError as exc:
        raise BenchmarkError(f"{exc}\nnode data and logs kept in {workdir}") from exc
    if options.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summarize(results)
    render(results, summary, options)
    return Report(
        {
            "options": asdict(options),
            "peaks_tps": {"life_zone": LIFE_ZONE_PEAK_TPS, "city": CITY_PEAK_TPS},
            "targets": {
                "node_vs_pyevm": TARGET_VS_PYEVM,
                "node_vs_eth_tester": TARGET_VS_ETH_TESTER,
                "scale_ratio": TARGET_SCALE_RATIO,
            },
            "summary": summary,
            "results": [asdict(r) for r in results],
        }
    )
