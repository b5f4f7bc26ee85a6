"""The Prometheus families of a running engine, every one named `engine_...`, built when scraped.

A collector rather than counters bumped in place: the actors keep counting as they always do (the lifecycle, the
mailboxes, the book's syncs, the feeds' and the gateway's stats, the journal's fold in `Activity`), and a scrape
reads those counts once. Nothing on the trading path calls the metrics library.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterator

from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric)
from prometheus_client.registry import Collector

from engine.app.observe import health
from engine.app.observe.activity import Activity
from engine.app.observe.watched import Watched
from engine.messages import BookState, TradingMode
from engine.runtime import LifecycleKind

_PER_ACTOR = {
    LifecycleKind.RESTARTED: ("engine_actor_restarts", "Restarts of each actor by its supervisor."),
    LifecycleKind.CRASHED: ("engine_actor_crashes", "Crashes of each actor."),
    LifecycleKind.DEAD_LETTER: ("engine_dead_letters", "Messages set aside because their actor crashed on them."),
    LifecycleKind.GAVE_UP: ("engine_actor_gave_up", "Supervisors that gave up (restart intensity exceeded)."),
}
_FEED_CAUSES = (("connection_lost", "disconnects"), ("silent", "silent_drops"), ("rollover", "rollovers"))


class EngineCollector(Collector):
    def __init__(self, watched: Watched, activity: Activity):
        self.watched = watched
        self.activity = activity

    def collect(self) -> Iterator[Metric]:
        yield from self._orders()
        yield from self._books()
        yield from self._feeds()
        yield self._errors()
        yield from self._runtime()
        yield from self._state()

    def _orders(self) -> Iterator[Metric]:
        activity = self.activity
        latency = HistogramMetricFamily("engine_order_ack_latency_seconds", "From an order's creation to the "
                                        "venue's acknowledgement (or first fill), per venue.", labels=["venue"])
        for venue, hist in sorted(activity.ack.items()):
            latency.add_metric([venue], hist.cumulative(), hist.sum_ns / 1e9)
        yield latency
        orders = CounterMetricFamily("engine_orders", "Orders sent to a venue.", labels=["venue", "instrument"])
        for (venue, symbol), n in sorted(activity.orders.items()):
            orders.add_metric([venue, symbol], n)
        yield orders
        fills = CounterMetricFamily("engine_fills", "Fills of our orders.", labels=["venue", "instrument", "liquidity"])
        for labels, n in sorted(activity.fills.items()):
            fills.add_metric(list(labels), n)
        yield fills
        ratio = GaugeMetricFamily("engine_fill_ratio", "Quantity filled over quantity ordered since the run started.",
                                  labels=["instrument"])
        for symbol in sorted(activity.instruments):
            ratio.add_metric([symbol], activity.fill_ratio(symbol))
        yield ratio
        yield GaugeMetricFamily("engine_open_orders", "Orders created and not yet final.", value=activity.open_orders)
        rejected = CounterMetricFamily("engine_risk_rejections", "Signals the risk gate refused, by rule.",
                                       labels=["rule"])
        for rule, n in sorted(activity.rejections.items()):
            rejected.add_metric([rule], n)
        yield rejected

    def _books(self) -> Iterator[Metric]:
        book, now = self.watched.book, self.watched.clock.now_ns()
        age = GaugeMetricFamily("engine_book_age_seconds", "Time since the venue last sent an event of this book "
                                "(freshness), on the run's clock.", labels=["instrument"])
        live = GaugeMetricFamily("engine_book_live", "1 while the book is live (synced and fresh), else 0.",
                                 labels=["instrument"])
        for symbol, sync in sorted(book.syncs.items()):
            heard = book.heard.get(symbol)
            if heard is not None:
                age.add_metric([symbol], max(now - heard, 0) / 1e9)
            live.add_metric([symbol], 1 if sync.state is BookState.LIVE else 0)
        yield age
        yield live
        resyncs = CounterMetricFamily("engine_book_resyncs", "Books rebuilt from a fresh snapshot, by cause.",
                                      labels=["instrument", "cause"])
        for symbol, counts in book.as_dict()["by_instrument"].items():
            for cause, n in counts["resyncs"].items():
                resyncs.add_metric([symbol, cause], n)
        yield resyncs

    def _feeds(self) -> Iterator[Metric]:
        reconnects = CounterMetricFamily("engine_feed_reconnects", "Market-data connections lost and made again, "
                                         "by cause.", labels=["feed", "venue", "cause"])
        connects = CounterMetricFamily("engine_feed_connects", "Market-data connections opened.",
                                       labels=["feed", "venue"])
        for name, (venue, stats) in sorted(self.watched.feeds.items()):
            connects.add_metric([name, venue], stats.connects)
            for cause, field in _FEED_CAUSES:
                reconnects.add_metric([name, venue, cause], getattr(stats, field))
        yield connects
        yield reconnects

    def _errors(self) -> Metric:
        """Every error the engine counts, by the venue it came from and its class."""
        errors: Counter[tuple[str, str]] = Counter(self.activity.errors)
        for _, (venue, stats) in self.watched.feeds.items():
            errors[venue, "malformed_frame"] += stats.malformed
        venues = {symbol: getattr(inst, "venue", "") for symbol, inst in self.activity.instruments.items()}
        for symbol, counts in self.watched.book.as_dict()["by_instrument"].items():
            errors[venues.get(symbol, ""), "sequence_gap"] += counts["sequence_gaps"]
            errors[venues.get(symbol, ""), "checksum_failed"] += counts["checksums_failed"]
            errors[venues.get(symbol, ""), "top_of_book_mismatch"] += counts["top_of_book_mismatched"]
        gateway = self.watched.gateway
        if gateway is not None:
            stats = gateway.stats_dict()
            errors[self.watched.venue, "request_retried"] += stats.get("retries", 0)
        family = CounterMetricFamily("engine_errors", "Errors per venue and class (requests failed or retried, "
                                     "orders rejected, malformed frames, book integrity).", labels=["venue", "class"])
        for (venue, kind), n in sorted(errors.items()):
            family.add_metric([venue, kind], n)
        return family

    def _runtime(self) -> Iterator[Metric]:
        watched = self.watched
        depth = GaugeMetricFamily("engine_mailbox_depth", "Messages waiting in each actor's mailbox.",
                                  labels=["mailbox"])
        conflated = CounterMetricFamily("engine_mailbox_conflations", "Unread messages replaced by a newer one "
                                        "(market views, latest values).", labels=["mailbox"])
        for name, box in sorted(watched.mailboxes.items()):
            depth.add_metric([name], len(box))
            conflated.add_metric([name], box.conflated)
        yield depth
        yield conflated
        counts = watched.lifecycle.counts
        actors = sorted({actor for actor, _ in counts})
        for kind, (name, doc) in _PER_ACTOR.items():
            family = CounterMetricFamily(name, doc, labels=["actor"])
            for actor in actors:
                family.add_metric([actor], counts[actor, kind])
            yield family

    def _state(self) -> Iterator[Metric]:
        activity = self.activity
        mode = GaugeMetricFamily("engine_trading_mode", "The kill switch's state: 1 for the mode it is in.",
                                 labels=["mode"])
        for each in TradingMode:
            mode.add_metric([each.value], 1 if activity.mode is each else 0)
        yield mode
        yield GaugeMetricFamily("engine_kill_switch_tripped", "1 while the kill switch is not active (reducing or "
                                "halted).", value=0 if activity.mode is TradingMode.ACTIVE else 1)
        operator = CounterMetricFamily("engine_operator_commands", "Operator commands taken, by action and source.",
                                       labels=["action", "source"])
        for (action, source), n in sorted(activity.operator.items()):
            operator.add_metric([action, source], n)
        yield operator
        yield GaugeMetricFamily("engine_ready", "1 when /health says ready, else 0.",
                                value=0 if health.reasons(self.watched, activity) else 1)
