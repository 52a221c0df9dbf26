// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_KEYGENERATOR_H
#define SYNQ_KEYGENERATOR_H

#include <synq/synq_export.h>

#include <QtCore/QString>

#include <functional>
#include <mutex>

QT_BEGIN_NAMESPACE
class QRandomGenerator;
QT_END_NAMESPACE

namespace Synq {

/*
    Client-side keys for new items (I1): UUIDs in the version 7 layout of RFC 9562 — 48 bits of
    Unix milliseconds, then a 12-bit counter that keeps keys made in the same millisecond in
    order, then 62 random bits. Keys made by one generator are strictly increasing, so sorting
    by key sorts by creation time, and two devices practically never collide.

    The clock and the random source can be injected for tests.
*/
class SYNQ_EXPORT KeyGenerator
{
public:
    using Clock = std::function<qint64()>; // Unix time in milliseconds

    KeyGenerator();
    KeyGenerator(Clock clock, QRandomGenerator *random);

    QString next();

    // The process-wide generator used by collections and the engine.
    static KeyGenerator &global();

    // True for a canonical lowercase UUIDv7 string as next() makes them.
    static bool isKey(const QString &key);
    // The millisecond timestamp a key was made at, or -1 for a string that is not a key.
    static qint64 timestampOf(const QString &key);

private:
    Clock m_clock;
    QRandomGenerator *m_random;
    std::mutex m_mutex;
    qint64 m_lastMs = -1;
    quint32 m_counter = 0;
};

} // namespace Synq

#endif
