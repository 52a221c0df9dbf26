// SPDX-License-Identifier: BSD-3-Clause
#include <synq/keygenerator.h>

#include <QtCore/QDateTime>
#include <QtCore/QRandomGenerator>

namespace Synq {

namespace {

// The system generator reads the OS (or RDRAND) on every call, which is slow on some machines;
// keys need unpredictable seeding, not a system call per key. Seeded with 256 bits from it once;
// next() calls it under its mutex.
QRandomGenerator *seededGenerator()
{
    static QRandomGenerator generator = [] {
        quint32 seed[8];
        QRandomGenerator::system()->fillRange(seed);
        return QRandomGenerator(seed, 8);
    }();
    return &generator;
}

} // namespace

KeyGenerator::KeyGenerator()
    : KeyGenerator([] { return QDateTime::currentMSecsSinceEpoch(); }, seededGenerator())
{
}

KeyGenerator::KeyGenerator(Clock clock, QRandomGenerator *random)
    : m_clock(std::move(clock)), m_random(random)
{
}

KeyGenerator &KeyGenerator::global()
{
    static KeyGenerator generator;
    return generator;
}

QString KeyGenerator::next()
{
    qint64 ms;
    quint32 counter;
    quint64 random;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        ms = m_clock();
        if (ms <= m_lastMs) {
            // Same millisecond, or the clock went back: stay ahead of the last key.
            ms = m_lastMs;
            if (++m_counter > 0xfff) {
                ++ms;
                m_counter = 0;
            }
        } else {
            // Start each millisecond at a random point in the lower half of the counter
            // space, leaving room for many keys in the same millisecond.
            m_counter = m_random->bounded(0x800u);
        }
        m_lastMs = ms;
        counter = m_counter;
        random = m_random->generate64(); // an injected generator need not be thread-safe
    }

    quint8 b[16];
    for (int i = 0; i < 6; ++i)
        b[i] = quint8(quint64(ms) >> (8 * (5 - i)));
    b[6] = quint8(0x70 | ((counter >> 8) & 0x0f));
    b[7] = quint8(counter & 0xff);
    for (int i = 8; i < 16; ++i)
        b[i] = quint8(random >> (8 * (15 - i)));
    b[8] = quint8(0x80 | (b[8] & 0x3f)); // RFC 9562 variant

    static const char hex[] = "0123456789abcdef";
    QString out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out += QLatin1Char('-');
        out += QLatin1Char(hex[b[i] >> 4]);
        out += QLatin1Char(hex[b[i] & 0x0f]);
    }
    return out;
}

bool KeyGenerator::isKey(const QString &key)
{
    if (key.size() != 36)
        return false;
    for (int i = 0; i < 36; ++i) {
        const QChar c = key.at(i);
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != QLatin1Char('-'))
                return false;
        } else if (!((c >= QLatin1Char('0') && c <= QLatin1Char('9'))
                     || (c >= QLatin1Char('a') && c <= QLatin1Char('f')))) {
            return false;
        }
    }
    if (key.at(14) != QLatin1Char('7'))
        return false;
    const QChar variant = key.at(19);
    return variant == QLatin1Char('8') || variant == QLatin1Char('9')
            || variant == QLatin1Char('a') || variant == QLatin1Char('b');
}

qint64 KeyGenerator::timestampOf(const QString &key)
{
    if (!isKey(key))
        return -1;
    const QString hex = key.left(8) + key.mid(9, 4);
    bool ok = false;
    const qint64 ms = hex.toLongLong(&ok, 16);
    return ok ? ms : -1;
}

} // namespace Synq
