"""`make demo --member-accounts`: the wave's pairs spread over the accounts, and each account's rate."""

from __future__ import annotations

import argparse

import pytest

from local.accounts import account_ids
from local.demo import URGENT_PAIR, channel, print_race, race
from local.ivs_emulator.service import BATCH_OPERATION, SINGLE_OPERATION, AcceptedCall, Ledger

OWN, MEMBER = "123456789012", "111111111111"


def ledger(*calls: AcceptedCall) -> Ledger:
    return Ledger(
        revoked={},
        calls_accepted=len(calls),
        calls_throttled=0,
        throttled_by_operation={},
        calls_rejected=0,
        calls_denied=0,
        faults_injected={},
        pair_errors={},
        accepted_calls=calls,
    )


def batch(at: float, account: str) -> AcceptedCall:
    return AcceptedCall(at=at, operation=BATCH_OPERATION, account=account, region="us-west-2", pairs=20)


def test_the_wave_is_counted_by_account_and_each_rate_printed(capsys: pytest.CaptureFixture[str]) -> None:
    urgent = AcceptedCall(
        at=100.2,
        operation=SINGLE_OPERATION,
        account=OWN,
        region="us-west-2",
        pairs=1,
        channel_arn=URGENT_PAIR["channelArn"],
        viewer_id=URGENT_PAIR["viewerId"],
    )
    before = batch(99.0, OWN)  # an earlier drain's call: not the wave's
    calls = [batch(100.0 + second / 2, account) for second in range(4) for account in (OWN, MEMBER)]
    result = race(ledger(before, urgent, *calls), wave_pairs=160, wave_sent_at=100.0, urgent_sent_at=100.1)

    assert dict(result.pairs_by_account) == {OWN: 80, MEMBER: 80}
    assert result.wave_drain == pytest.approx(1.5)
    print_race(result)
    printed = capsys.readouterr().out
    assert f"account {MEMBER} 80 pairs, 53.3 pairs/s" in printed
    assert "106.7 pairs/s over 2 accounts" in printed


def test_one_account_prints_no_breakdown(capsys: pytest.CaptureFixture[str]) -> None:
    print_race(race(ledger(batch(100.5, OWN)), wave_pairs=20, wave_sent_at=100.0, urgent_sent_at=100.1))
    printed = capsys.readouterr().out
    assert "20 pairs revoked in 0.5 s" in printed
    assert "account " not in printed and "together" not in printed


def test_the_wave_s_channels_take_the_accounts_in_turn_and_account_ids_are_checked() -> None:
    assert channel("LoadChannel00", MEMBER) == f"arn:aws:ivs:us-west-2:{MEMBER}:channel/LoadChannel00"
    assert account_ids(f"{MEMBER}, 222222222222") == [MEMBER, "222222222222"]
    with pytest.raises(argparse.ArgumentTypeError, match="12-digit"):
        account_ids("1234")
