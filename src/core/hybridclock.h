// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_HYBRIDCLOCK_H
#define SYNQ_HYBRIDCLOCK_H

#include <synq/synq_export.h>

#include <QtCore/QString>

#include <optional>

/*
    A hybrid logical clock (Kulkarni et al., 2014) as pure functions: the order LastWriteWins
    decides by. A timestamp is a wall time in milliseconds, a counter and the node that made
    it; it never goes back on one node, it is later than every timestamp the node has seen,
    and it stays close to real time. Raw device clocks alone are never compared: a device whose
    clock is an hour fast would win every conflict for an hour. The caller supplies "now" and
    keeps the last timestamp, so the same inputs always give the same stamp.
*/

namespace Synq {
namespace HybridClock {

struct Timestamp
{
    qint64 wallMs = 0; // milliseconds since the Unix epoch
    quint32 counter = 0; // orders stamps within one millisecond
    QString node; // breaks the last ties between devices; no ':' in it

    bool isNull() const { return wallMs == 0 && counter == 0 && node.isEmpty(); }
    friend bool operator==(const Timestamp &a, const Timestamp &b)
    {
        return a.wallMs == b.wallMs && a.counter == b.counter && a.node == b.node;
    }
    friend bool operator!=(const Timestamp &a, const Timestamp &b) { return !(a == b); }
};

// <0, 0, >0 as a is earlier than, the same as, or later than b: by wall time, counter, node.
SYNQ_EXPORT int compare(const Timestamp &a, const Timestamp &b);

// nowMs is the device's time, corrected by the server's clock where the caller knows it.

// The stamp of a local event after last, at wall time nowMs.
SYNQ_EXPORT Timestamp tick(const Timestamp &last, qint64 nowMs, const QString &node);

// The node's clock after seeing remote (a pulled record's stamp) at nowMs: later than both.
// nullopt when remote is more than maxDriftMs ahead of nowMs: a clock that far off is not
// followed (the caller reports it and keeps its own clock).
SYNQ_EXPORT std::optional<Timestamp> receive(const Timestamp &last, const Timestamp &remote,
                                             qint64 nowMs, const QString &node,
                                             qint64 maxDriftMs = 60 * 1000);

// Text that sorts as the stamps do: "WWWWWWWWWWWWWWW:CCCCCC:node" (wall time and counter
// zero-padded to 15 and 6 digits). parse() accepts exactly that, else nullopt.
SYNQ_EXPORT QString format(const Timestamp &stamp);
SYNQ_EXPORT std::optional<Timestamp> parse(const QString &text);

} // namespace HybridClock
} // namespace Synq

#endif // SYNQ_HYBRIDCLOCK_H
