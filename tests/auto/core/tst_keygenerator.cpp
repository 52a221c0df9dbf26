// SPDX-License-Identifier: BSD-3-Clause
#include <synq/keygenerator.h>

#include <QtCore/QDateTime>
#include <QtCore/QList>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSet>
#include <QtCore/QThread>
#include <QtCore/QUuid>
#include <QtTest/QTest>

#include <memory>
#include <vector>

using namespace Synq;

namespace {

constexpr qint64 SomeMs = 1700000000123; // 2023-11-14T22:13:20.123Z
constexpr qint64 MaxMs = (qint64(1) << 48) - 1;

// The 12-bit counter that follows the version nibble.
int counterOf(const QString &key)
{
    bool ok = false;
    const int counter = key.mid(15, 3).toInt(&ok, 16);
    return ok ? counter : -1;
}

// The hex digits after the variant nibble: the random part (62 bits, as 2 + 60).
QString randomTailOf(const QString &key)
{
    return key.mid(19).remove(QLatin1Char('-'));
}

// A generator whose clock returns *now, and whose randomness is reproducible.
struct FrozenGenerator
{
    explicit FrozenGenerator(qint64 start, quint32 seed = 1)
        : now(std::make_shared<qint64>(start)), random(seed),
          generator([clock = now] { return *clock; }, &random)
    {
    }

    std::shared_ptr<qint64> now;
    QRandomGenerator random;
    KeyGenerator generator;
};

} // namespace

class tst_KeyGenerator : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void layout_data();
    void layout();
    void variantBitsAreSetForEveryRandomValue();
    void isKey_data();
    void isKey();
    void timestampOf_data();
    void timestampOf();
    void keysInOneMillisecondAreStrictlyIncreasing();
    void clockSequence_data();
    void clockSequence();
    void counterStartsInTheLowerHalf();
    void counterOverflowRollsIntoTheNextMillisecond();
    void manyOverflowsStayOrdered();
    void sameSeedSameKeys();
    void tenThousandKeysAreUniqueAndSorted_data();
    void tenThousandKeysAreUniqueAndSorted();
    void globalGeneratorUsesTheWallClock();
    void concurrentCallersGetUniqueKeys();
};

void tst_KeyGenerator::layout_data()
{
    QTest::addColumn<qint64>("ms");

    QTest::newRow("the Unix epoch is all zero timestamp bits") << qint64(0);
    QTest::newRow("one millisecond after the epoch") << qint64(1);
    QTest::newRow("a time in 2023") << SomeMs;
    QTest::newRow("a time with every timestamp byte non-zero") << qint64(0x0123456789ab);
    QTest::newRow("the last millisecond 48 bits can hold") << MaxMs;
}

void tst_KeyGenerator::layout()
{
    QFETCH(qint64, ms);

    FrozenGenerator frozen(ms);
    const QString key = frozen.generator.next();

    QCOMPARE(key.size(), 36);
    QCOMPARE(key.at(8), QLatin1Char('-'));
    QCOMPARE(key.at(13), QLatin1Char('-'));
    QCOMPARE(key.at(18), QLatin1Char('-'));
    QCOMPARE(key.at(23), QLatin1Char('-'));
    QCOMPARE(key, key.toLower());
    QCOMPARE(key.at(14), QLatin1Char('7')); // version nibble
    QVERIFY2(QStringLiteral("89ab").contains(key.at(19)), qPrintable(key)); // variant 10xx
    QCOMPARE(key.left(8) + key.mid(9, 4), QStringLiteral("%1").arg(ms, 12, 16, QLatin1Char('0')));
    QVERIFY(KeyGenerator::isKey(key));
    QCOMPARE(KeyGenerator::timestampOf(key), ms);

    // QUuid reads it as an RFC 4122 variant UUID; Qt 6.4's version() stops at 5, so read the
    // version nibble from the raw fields.
    const QUuid uuid(key);
    QVERIFY(!uuid.isNull());
    QCOMPARE(uuid.variant(), QUuid::DCE);
    QCOMPARE(uuid.data3 >> 12, 7);
    QCOMPARE(quint64(uuid.data1) << 16 | uuid.data2, quint64(ms));
    QCOMPARE(uuid.toString(QUuid::WithoutBraces), key);
}

void tst_KeyGenerator::variantBitsAreSetForEveryRandomValue()
{
    // The two random bits next to the variant must vary: all four variant digits show up.
    QSet<QChar> variants;
    for (quint32 seed = 1; seed <= 200; ++seed) {
        FrozenGenerator frozen(SomeMs + seed, seed);
        for (int i = 0; i < 5; ++i) {
            const QString key = frozen.generator.next();
            QVERIFY2(QStringLiteral("89ab").contains(key.at(19)), qPrintable(key));
            QCOMPARE(key.at(14), QLatin1Char('7'));
            variants.insert(key.at(19));
        }
    }
    QCOMPARE(variants, (QSet<QChar>{ u'8', u'9', u'a', u'b' }));
}

void tst_KeyGenerator::isKey_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<bool>("valid");

    QTest::newRow("a lowercase version 7 key with variant 9 is a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f70") << true;
    QTest::newRow("variant 8 is a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-8a1f-2b3c4d5e6f70") << true;
    QTest::newRow("variant a is a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-aa1f-2b3c4d5e6f70") << true;
    QTest::newRow("variant b is a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-ba1f-2b3c4d5e6f70") << true;
    QTest::newRow("the smallest version 7 value is a key")
            << QStringLiteral("00000000-0000-7000-8000-000000000000") << true;
    QTest::newRow("the largest version 7 value is a key")
            << QStringLiteral("ffffffff-ffff-7fff-bfff-ffffffffffff") << true;
    QTest::newRow("an empty string is not a key") << QString() << false;
    QTest::newRow("upper case hex is not a key")
            << QStringLiteral("0190F5A8-3C2E-7D4B-9A1F-2B3C4D5E6F70") << false;
    QTest::newRow("one upper case letter makes it not a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f7A") << false;
    QTest::newRow("braces are not part of a key")
            << QStringLiteral("{0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f70}") << false;
    QTest::newRow("a urn prefix is not part of a key")
            << QStringLiteral("urn:uuid:0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f70") << false;
    QTest::newRow("the 32 digits without dashes are not a key")
            << QStringLiteral("0190f5a83c2e7d4b9a1f2b3c4d5e6f70") << false;
    QTest::newRow("a dash in the wrong place is not a key")
            << QStringLiteral("0190f5a-83c2e-7d4b-9a1f-2b3c4d5e6f70") << false;
    QTest::newRow("a missing digit is not a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f7") << false;
    QTest::newRow("a trailing space is not a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f70 ") << false;
    QTest::newRow("a leading space is not a key")
            << QStringLiteral(" 0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f70") << false;
    QTest::newRow("a non-hex letter is not a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f7g") << false;
    QTest::newRow("a full-width digit is not a key")
            << QStringLiteral(u"0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f7０") << false;
    QTest::newRow("an underscore instead of a dash is not a key")
            << QStringLiteral("0190f5a8_3c2e-7d4b-9a1f-2b3c4d5e6f70") << false;
    QTest::newRow("version 4 is not a key")
            << QStringLiteral("0190f5a8-3c2e-4d4b-9a1f-2b3c4d5e6f70") << false;
    QTest::newRow("version 1 is not a key")
            << QStringLiteral("0190f5a8-3c2e-1d4b-9a1f-2b3c4d5e6f70") << false;
    QTest::newRow("version 8 is not a key")
            << QStringLiteral("0190f5a8-3c2e-8d4b-9a1f-2b3c4d5e6f70") << false;
    QTest::newRow("variant 0 (NCS) is not a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-0a1f-2b3c4d5e6f70") << false;
    QTest::newRow("variant 7 (NCS) is not a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-7a1f-2b3c4d5e6f70") << false;
    QTest::newRow("variant c (Microsoft) is not a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-ca1f-2b3c4d5e6f70") << false;
    QTest::newRow("variant f (reserved) is not a key")
            << QStringLiteral("0190f5a8-3c2e-7d4b-fa1f-2b3c4d5e6f70") << false;
    QTest::newRow("the nil UUID is not a key")
            << QStringLiteral("00000000-0000-0000-0000-000000000000") << false;
    QTest::newRow("a random version 4 UUID is not a key")
            << QUuid::createUuid().toString(QUuid::WithoutBraces) << false;
    QTest::newRow("a server-style integer id is not a key") << QStringLiteral("42") << false;
}

void tst_KeyGenerator::isKey()
{
    QFETCH(QString, key);
    QFETCH(bool, valid);

    QCOMPARE(KeyGenerator::isKey(key), valid);
    if (!valid)
        QCOMPARE(KeyGenerator::timestampOf(key), qint64(-1));
}

void tst_KeyGenerator::timestampOf_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<qint64>("ms");

    QTest::newRow("the smallest key was made at the epoch")
            << QStringLiteral("00000000-0000-7000-8000-000000000000") << qint64(0);
    QTest::newRow("the first 48 bits are the milliseconds")
            << QStringLiteral("01234567-89ab-7def-8000-000000000000") << qint64(0x0123456789ab);
    QTest::newRow("the counter and random bits do not change the timestamp")
            << QStringLiteral("01234567-89ab-7fff-bfff-ffffffffffff") << qint64(0x0123456789ab);
    QTest::newRow("the largest key has the largest timestamp")
            << QStringLiteral("ffffffff-ffff-7fff-bfff-ffffffffffff") << MaxMs;
    QTest::newRow("a key from 2024 gives its millisecond")
            << QStringLiteral("0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f70") << qint64(0x0190f5a83c2e);
    QTest::newRow("a non-key gives -1") << QStringLiteral("not-a-key") << qint64(-1);
    QTest::newRow("an upper case key gives -1")
            << QStringLiteral("0190F5A8-3C2E-7D4B-9A1F-2B3C4D5E6F70") << qint64(-1);
    QTest::newRow("a version 4 UUID gives -1")
            << QStringLiteral("0190f5a8-3c2e-4d4b-9a1f-2b3c4d5e6f70") << qint64(-1);
    QTest::newRow("an empty string gives -1") << QString() << qint64(-1);
}

void tst_KeyGenerator::timestampOf()
{
    QFETCH(QString, key);
    QFETCH(qint64, ms);

    QCOMPARE(KeyGenerator::timestampOf(key), ms);
}

void tst_KeyGenerator::keysInOneMillisecondAreStrictlyIncreasing()
{
    FrozenGenerator frozen(SomeMs, 7);
    QString previous = frozen.generator.next();
    int previousCounter = counterOf(previous);
    for (int i = 0; i < 1000; ++i) {
        const QString key = frozen.generator.next();
        QVERIFY2(previous < key, qPrintable(previous + QLatin1String(" !< ") + key));
        QCOMPARE(KeyGenerator::timestampOf(key), SomeMs);
        QCOMPARE(counterOf(key), previousCounter + 1);
        previous = key;
        previousCounter = counterOf(key);
    }
}

void tst_KeyGenerator::clockSequence_data()
{
    QTest::addColumn<QList<qint64>>("clock");
    QTest::addColumn<QList<qint64>>("timestamps");

    QTest::newRow("a clock moving forward gives each key its own millisecond")
            << QList<qint64>{ 1000, 1001, 1005, 2000 } << QList<qint64>{ 1000, 1001, 1005, 2000 };
    QTest::newRow("a clock that stands still keeps the millisecond")
            << QList<qint64>{ 1000, 1000, 1000 } << QList<qint64>{ 1000, 1000, 1000 };
    QTest::newRow("a clock that jumps back stays at the last millisecond")
            << QList<qint64>{ 5000, 4000, 10, 0 } << QList<qint64>{ 5000, 5000, 5000, 5000 };
    QTest::newRow("a clock that goes back and then overtakes moves on again")
            << QList<qint64>{ 5000, 4999, 5000, 5001, 4000, 6000 }
            << QList<qint64>{ 5000, 5000, 5000, 5001, 5001, 6000 };
    QTest::newRow("a clock that goes back by a day stays put")
            << QList<qint64>{ SomeMs, SomeMs - 86400000, SomeMs + 1 }
            << QList<qint64>{ SomeMs, SomeMs, SomeMs + 1 };
}

void tst_KeyGenerator::clockSequence()
{
    QFETCH(QList<qint64>, clock);
    QFETCH(QList<qint64>, timestamps);
    QCOMPARE(clock.size(), timestamps.size());

    FrozenGenerator frozen(clock.first(), 3);
    QString previous;
    for (qsizetype i = 0; i < clock.size(); ++i) {
        *frozen.now = clock.at(i);
        const QString key = frozen.generator.next();
        QVERIFY(KeyGenerator::isKey(key));
        QCOMPARE(KeyGenerator::timestampOf(key), timestamps.at(i));
        if (i > 0) {
            QVERIFY2(previous < key, qPrintable(previous + QLatin1String(" !< ") + key));
            if (timestamps.at(i) == timestamps.at(i - 1))
                QCOMPARE(counterOf(key), counterOf(previous) + 1);
        }
        previous = key;
    }
}

void tst_KeyGenerator::counterStartsInTheLowerHalf()
{
    // Each new millisecond starts the counter below 0x800, leaving at least 2048 keys of room,
    // and the start point is random rather than always zero.
    FrozenGenerator frozen(SomeMs, 11);
    QSet<int> starts;
    for (int i = 0; i < 500; ++i) {
        *frozen.now = SomeMs + i;
        const int counter = counterOf(frozen.generator.next());
        QVERIFY2(counter >= 0 && counter < 0x800, qPrintable(QString::number(counter, 16)));
        starts.insert(counter);
    }
    QVERIFY2(starts.size() > 400, qPrintable(QString::number(starts.size())));
}

void tst_KeyGenerator::counterOverflowRollsIntoTheNextMillisecond()
{
    FrozenGenerator frozen(SomeMs, 5);
    const QString first = frozen.generator.next();
    const int start = counterOf(first);
    QVERIFY(start >= 0 && start < 0x800);

    // Use up the counter space of this millisecond.
    QString previous = first;
    for (int counter = start + 1; counter <= 0xfff; ++counter) {
        const QString key = frozen.generator.next();
        QCOMPARE(KeyGenerator::timestampOf(key), SomeMs);
        QCOMPARE(counterOf(key), counter);
        QVERIFY(previous < key);
        previous = key;
    }

    // The next key borrows the following millisecond, counter from zero.
    const QString rolled = frozen.generator.next();
    QCOMPARE(KeyGenerator::timestampOf(rolled), SomeMs + 1);
    QCOMPARE(counterOf(rolled), 0);
    QVERIFY(previous < rolled);

    // Still frozen: keep counting in the borrowed millisecond.
    const QString afterRoll = frozen.generator.next();
    QCOMPARE(KeyGenerator::timestampOf(afterRoll), SomeMs + 1);
    QCOMPARE(counterOf(afterRoll), 1);
    QVERIFY(rolled < afterRoll);

    // The real clock catching up with the borrowed millisecond does not restart the counter.
    *frozen.now = SomeMs + 1;
    const QString caughtUp = frozen.generator.next();
    QCOMPARE(KeyGenerator::timestampOf(caughtUp), SomeMs + 1);
    QCOMPARE(counterOf(caughtUp), 2);
    QVERIFY(afterRoll < caughtUp);

    // Only a later millisecond starts afresh.
    *frozen.now = SomeMs + 2;
    const QString fresh = frozen.generator.next();
    QCOMPARE(KeyGenerator::timestampOf(fresh), SomeMs + 2);
    QVERIFY(counterOf(fresh) < 0x800);
    QVERIFY(caughtUp < fresh);
}

void tst_KeyGenerator::manyOverflowsStayOrdered()
{
    FrozenGenerator frozen(SomeMs, 9);
    const int count = 5 * 0x1000;
    QString previous = frozen.generator.next();
    for (int i = 1; i < count; ++i) {
        const QString key = frozen.generator.next();
        QVERIFY2(previous < key, qPrintable(previous + QLatin1String(" !< ") + key));
        previous = key;
    }
    // At least four full rolls happened, at most five: the clock never moved.
    const qint64 last = KeyGenerator::timestampOf(previous);
    QVERIFY2(last >= SomeMs + 4 && last <= SomeMs + 5, qPrintable(QString::number(last - SomeMs)));
}

void tst_KeyGenerator::sameSeedSameKeys()
{
    FrozenGenerator a(SomeMs, 1234);
    FrozenGenerator b(SomeMs, 1234);
    FrozenGenerator c(SomeMs, 4321);
    QStringList fromA, fromB, fromC;
    for (int i = 0; i < 50; ++i) {
        fromA.append(a.generator.next());
        fromB.append(b.generator.next());
        fromC.append(c.generator.next());
    }
    QCOMPARE(fromA, fromB);
    QVERIFY(fromA != fromC);
    // The random tail differs from key to key, even inside one millisecond.
    QSet<QString> tails;
    for (const QString &key : fromA)
        tails.insert(randomTailOf(key));
    QCOMPARE(tails.size(), fromA.size());
}

void tst_KeyGenerator::tenThousandKeysAreUniqueAndSorted_data()
{
    QTest::addColumn<bool>("frozen");

    QTest::newRow("the wall clock and system randomness") << false;
    QTest::newRow("a frozen clock and seeded randomness") << true;
}

void tst_KeyGenerator::tenThousandKeysAreUniqueAndSorted()
{
    QFETCH(bool, frozen);

    FrozenGenerator fixed(SomeMs, 99);
    KeyGenerator wall;
    KeyGenerator &generator = frozen ? fixed.generator : wall;

    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    QStringList keys;
    keys.reserve(10000);
    for (int i = 0; i < 10000; ++i)
        keys.append(generator.next());
    const qint64 after = QDateTime::currentMSecsSinceEpoch();

    QSet<QString> unique(keys.cbegin(), keys.cend());
    QCOMPARE(unique.size(), keys.size());
    for (qsizetype i = 0; i < keys.size(); ++i) {
        QVERIFY2(KeyGenerator::isKey(keys.at(i)), qPrintable(keys.at(i)));
        if (i > 0)
            QVERIFY2(keys.at(i - 1) < keys.at(i), qPrintable(QString::number(i)));
    }
    QStringList sorted = keys;
    sorted.sort();
    QCOMPARE(sorted, keys);

    if (!frozen) {
        // Borrowed milliseconds can run ahead of the clock by at most one per 2048 keys.
        QVERIFY(KeyGenerator::timestampOf(keys.first()) >= before);
        QVERIFY(KeyGenerator::timestampOf(keys.last()) <= after + 10000 / 2048 + 1);
    }
}

void tst_KeyGenerator::globalGeneratorUsesTheWallClock()
{
    KeyGenerator &global = KeyGenerator::global();
    QCOMPARE(&KeyGenerator::global(), &global);

    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    const QString first = global.next();
    const QString second = global.next();
    const qint64 after = QDateTime::currentMSecsSinceEpoch();

    QVERIFY(KeyGenerator::isKey(first));
    QVERIFY(first < second);
    // Other code in the process may have borrowed a few milliseconds ahead; not this test.
    QVERIFY(KeyGenerator::timestampOf(first) >= before);
    QVERIFY(KeyGenerator::timestampOf(second) <= after + 1);
}

void tst_KeyGenerator::concurrentCallersGetUniqueKeys()
{
    KeyGenerator generator;
    constexpr int threadCount = 4;
    constexpr int perThread = 2500;
    QList<QStringList> results(threadCount);
    std::vector<std::unique_ptr<QThread>> threads;
    for (int t = 0; t < threadCount; ++t) {
        threads.emplace_back(QThread::create([&generator, &results, t] {
            for (int i = 0; i < perThread; ++i)
                results[t].append(generator.next());
        }));
        threads.back()->start();
    }
    for (auto &thread : threads)
        QVERIFY(thread->wait(60000));

    QSet<QString> all;
    for (const QStringList &keys : results) {
        QCOMPARE(keys.size(), perThread);
        for (qsizetype i = 1; i < keys.size(); ++i)
            QVERIFY(keys.at(i - 1) < keys.at(i)); // each caller sees its keys increase
        for (const QString &key : keys)
            all.insert(key);
    }
    QCOMPARE(all.size(), threadCount * perThread);
}

QTEST_GUILESS_MAIN(tst_KeyGenerator)
#include "tst_keygenerator.moc"
