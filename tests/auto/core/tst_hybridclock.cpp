// SPDX-License-Identifier: BSD-3-Clause
// Synq::HybridClock: the order LastWriteWins decides by. Tables for each function, then three
// nodes with skewed clocks exchanging stamps, checking the clock's promises.

#include <synq/hybridclock.h>

#include <QtCore/QRandomGenerator>
#include <QtTest/QTest>

using namespace Synq;
using HybridClock::Timestamp;

namespace Synq {
namespace HybridClock {
char *toString(const Timestamp &stamp)
{
    return QTest::toString(HybridClock::format(stamp));
}
} // namespace HybridClock
} // namespace Synq

Q_DECLARE_METATYPE(Synq::HybridClock::Timestamp)
using OptionalStamp = std::optional<Timestamp>;
Q_DECLARE_METATYPE(OptionalStamp)

char *toString(const OptionalStamp &stamp)
{
    return stamp ? QTest::toString(HybridClock::format(*stamp)) : qstrdup("(not followed)");
}

namespace {
Timestamp at(qint64 wall, quint32 counter, const char *node = "a")
{
    return Timestamp { wall, counter, QString::fromLatin1(node) };
}
} // namespace

class tst_HybridClock : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void compare_data();
    void compare();
    void tick_data();
    void tick();
    void receive_data();
    void receive();
    void text_data();
    void text();
    void badText_data();
    void badText();
    void nodesExchangingStamps_data();
    void nodesExchangingStamps();
};

void tst_HybridClock::compare_data()
{
    QTest::addColumn<Timestamp>("a");
    QTest::addColumn<Timestamp>("b");
    QTest::addColumn<int>("expected");
    QTest::newRow("wall time first") << at(1, 9, "z") << at(2, 0, "a") << -1;
    QTest::newRow("then the counter") << at(5, 2, "a") << at(5, 1, "z") << 1;
    QTest::newRow("then the node") << at(5, 1, "a") << at(5, 1, "b") << -1;
    QTest::newRow("the same") << at(5, 1, "a") << at(5, 1, "a") << 0;
}

void tst_HybridClock::compare()
{
    QFETCH(Timestamp, a);
    QFETCH(Timestamp, b);
    QFETCH(int, expected);
    const int c = HybridClock::compare(a, b);
    QCOMPARE((c > 0) - (c < 0), expected);
    const int reverse = HybridClock::compare(b, a);
    QCOMPARE((reverse > 0) - (reverse < 0), -expected);
}

void tst_HybridClock::tick_data()
{
    QTest::addColumn<Timestamp>("last");
    QTest::addColumn<qint64>("now");
    QTest::addColumn<Timestamp>("expected");
    QTest::newRow("the first stamp") << Timestamp() << qint64(1000) << at(1000, 0);
    QTest::newRow("time moved on") << at(1000, 7) << qint64(1001) << at(1001, 0);
    QTest::newRow("the same millisecond") << at(1000, 7) << qint64(1000) << at(1000, 8);
    QTest::newRow("the device clock went back") << at(5000, 2) << qint64(1000) << at(5000, 3);
    QTest::newRow("a full millisecond moves on") << at(1000, 999999) << qint64(1000)
                                                 << at(1001, 0);
}

void tst_HybridClock::tick()
{
    QFETCH(Timestamp, last);
    QFETCH(qint64, now);
    QFETCH(Timestamp, expected);
    QCOMPARE(HybridClock::tick(last, now, QStringLiteral("a")), expected);
}

void tst_HybridClock::receive_data()
{
    QTest::addColumn<Timestamp>("last");
    QTest::addColumn<Timestamp>("remote");
    QTest::addColumn<qint64>("now");
    QTest::addColumn<OptionalStamp>("expected");
    QTest::newRow("now is latest") << at(10, 4) << at(20, 9, "b") << qint64(30)
                                   << OptionalStamp(at(30, 0));
    QTest::newRow("remote is latest") << at(10, 4) << at(40, 9, "b") << qint64(30)
                                      << OptionalStamp(at(40, 10));
    QTest::newRow("last is latest") << at(50, 4) << at(40, 9, "b") << qint64(30)
                                    << OptionalStamp(at(50, 5));
    QTest::newRow("last and remote tie") << at(50, 4) << at(50, 9, "b") << qint64(30)
                                         << OptionalStamp(at(50, 10));
    QTest::newRow("all three tie") << at(50, 12) << at(50, 9, "b") << qint64(50)
                                   << OptionalStamp(at(50, 13));
    QTest::newRow("remote a minute ahead is followed")
            << at(0, 0) << at(60030, 0, "b") << qint64(30) << OptionalStamp(at(60030, 1));
    QTest::newRow("remote further ahead is not") << at(0, 0) << at(60031, 0, "b") << qint64(30)
                                                 << OptionalStamp();
}

void tst_HybridClock::receive()
{
    QFETCH(Timestamp, last);
    QFETCH(Timestamp, remote);
    QFETCH(qint64, now);
    QFETCH(OptionalStamp, expected);
    QCOMPARE(HybridClock::receive(last, remote, now, QStringLiteral("a")), expected);
}

void tst_HybridClock::text_data()
{
    QTest::addColumn<Timestamp>("stamp");
    QTest::addColumn<QString>("text");
    QTest::newRow("zero") << Timestamp() << "000000000000000:000000:";
    QTest::newRow("a stamp") << at(1764748800123, 42, "device-7")
                             << "001764748800123:000042:device-7";
    QTest::newRow("the largest") << at(999999999999999, 999999, "z")
                                 << "999999999999999:999999:z";
}

void tst_HybridClock::text()
{
    QFETCH(Timestamp, stamp);
    QFETCH(QString, text);
    QCOMPARE(HybridClock::format(stamp), text);
    QCOMPARE(HybridClock::parse(text), OptionalStamp(stamp));
}

void tst_HybridClock::badText_data()
{
    QTest::addColumn<QString>("text");
    QTest::newRow("empty") << "";
    QTest::newRow("two parts") << "001764748800123:000042";
    QTest::newRow("short wall time") << "1764748800123:000042:a";
    QTest::newRow("short counter") << "001764748800123:42:a";
    QTest::newRow("a sign") << "-01764748800123:000042:a";
    QTest::newRow("letters") << "00176474880012x:000042:a";
    QTest::newRow("a colon in the node") << "001764748800123:000042:a:b";
}

void tst_HybridClock::badText()
{
    QFETCH(QString, text);
    QCOMPARE(HybridClock::parse(text), OptionalStamp());
}

void tst_HybridClock::nodesExchangingStamps_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("seed 1") << 1u;
    QTest::newRow("seed 99") << 99u;
    QTest::newRow("seed 20261203") << 20261203u;
}

void tst_HybridClock::nodesExchangingStamps()
{
    QFETCH(quint32, seed);
    QRandomGenerator random(seed);
    struct Node
    {
        QString name;
        qint64 skewMs; // this device's clock minus real time
        Timestamp last;
    };
    QList<Node> nodes { { QStringLiteral("a"), 0, {} },
                        { QStringLiteral("b"), 25000, {} }, // 25 s fast
                        { QStringLiteral("c"), -30000, {} } }; // 30 s slow
    qint64 realMs = 1764748800000;
    QList<Timestamp> sent;
    for (int step = 0; step < 5000; ++step) {
        const QString context = QStringLiteral("seed %1, step %2").arg(seed).arg(step);
        realMs += random.bounded(3); // often the same millisecond
        Node &node = nodes[int(random.bounded(3u))];
        const qint64 now = realMs + node.skewMs;
        const Timestamp before = node.last;
        if (sent.isEmpty() || random.bounded(2u)) {
            node.last = HybridClock::tick(node.last, now, node.name);
            sent.append(node.last);
        } else {
            const Timestamp remote = sent.at(int(random.bounded(quint32(sent.size()))));
            const OptionalStamp seen = HybridClock::receive(node.last, remote, now, node.name);
            QVERIFY2(seen, qPrintable(context + QStringLiteral(": a skew within the bound was "
                                                               "not followed")));
            QVERIFY2(HybridClock::compare(*seen, remote) > 0,
                     qPrintable(context + QStringLiteral(": not later than what it saw")));
            node.last = *seen;
        }
        QVERIFY2(HybridClock::compare(node.last, before) > 0,
                 qPrintable(context + QStringLiteral(": the clock did not move forward")));
        // Close to real time: never ahead of the fastest clock by more than the stamps taken
        // in one millisecond can push it.
        QVERIFY2(node.last.wallMs <= realMs + 25000 + 1,
                 qPrintable(context + QStringLiteral(": ran ahead of every clock")));
        // The text sorts as the stamps do.
        if (!sent.isEmpty()) {
            const Timestamp &other = sent.at(int(random.bounded(quint32(sent.size()))));
            const int c = HybridClock::compare(node.last, other);
            const int t = HybridClock::format(node.last).compare(HybridClock::format(other));
            QVERIFY2((c > 0) == (t > 0) && (c < 0) == (t < 0),
                     qPrintable(context + QStringLiteral(": text order differs")));
        }
    }
    // The slow node's stamps are not held back by its clock.
    QVERIFY(nodes.at(2).last.wallMs > realMs - 30000);
}

QTEST_APPLESS_MAIN(tst_HybridClock)
#include "tst_hybridclock.moc"
