// SPDX-License-Identifier: BSD-3-Clause
#include "hybridclock.h"

#include <QtCore/QStringList>

#include <algorithm>

namespace Synq {
namespace HybridClock {

namespace {
constexpr quint32 maxCounter = 999999; // six digits in the text form
constexpr qint64 maxWallMs = 999999999999999; // fifteen digits

// Counter after c within one millisecond; past the text form's six digits the wall time
// moves on by one millisecond instead.
Timestamp next(qint64 wallMs, std::optional<quint32> after, const QString &node)
{
    if (!after)
        return { wallMs, 0, node };
    if (*after >= maxCounter)
        return { wallMs + 1, 0, node };
    return { wallMs, *after + 1, node };
}
} // namespace

int compare(const Timestamp &a, const Timestamp &b)
{
    if (a.wallMs != b.wallMs)
        return a.wallMs < b.wallMs ? -1 : 1;
    if (a.counter != b.counter)
        return a.counter < b.counter ? -1 : 1;
    return a.node.compare(b.node);
}

Timestamp tick(const Timestamp &last, qint64 nowMs, const QString &node)
{
    if (nowMs > last.wallMs)
        return next(nowMs, std::nullopt, node);
    return next(last.wallMs, last.counter, node);
}

std::optional<Timestamp> receive(const Timestamp &last, const Timestamp &remote, qint64 nowMs,
                                 const QString &node, qint64 maxDriftMs)
{
    if (remote.wallMs - nowMs > maxDriftMs)
        return std::nullopt;
    const qint64 wall = std::max({ last.wallMs, remote.wallMs, nowMs });
    if (wall == last.wallMs && wall == remote.wallMs)
        return next(wall, std::max(last.counter, remote.counter), node);
    if (wall == last.wallMs)
        return next(wall, last.counter, node);
    if (wall == remote.wallMs)
        return next(wall, remote.counter, node);
    return next(wall, std::nullopt, node);
}

QString format(const Timestamp &stamp)
{
    return QStringLiteral("%1:%2:%3")
            .arg(stamp.wallMs, 15, 10, QLatin1Char('0'))
            .arg(stamp.counter, 6, 10, QLatin1Char('0'))
            .arg(stamp.node);
}

std::optional<Timestamp> parse(const QString &text)
{
    const QStringList parts = text.split(QLatin1Char(':'));
    if (parts.size() != 3 || parts.at(0).size() != 15 || parts.at(1).size() != 6)
        return std::nullopt;
    const auto digits = [](const QString &part) {
        return std::all_of(part.begin(), part.end(),
                           [](QChar c) { return c >= QLatin1Char('0') && c <= QLatin1Char('9'); });
    };
    if (!digits(parts.at(0)) || !digits(parts.at(1)))
        return std::nullopt;
    const qint64 wall = parts.at(0).toLongLong();
    const quint32 counter = parts.at(1).toUInt();
    if (wall > maxWallMs || counter > maxCounter)
        return std::nullopt;
    return Timestamp { wall, counter, parts.at(2) };
}

} // namespace HybridClock
} // namespace Synq
