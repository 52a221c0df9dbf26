// SPDX-License-Identifier: BSD-3-Clause
#include <synq/backoff.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QRandomGenerator>
#include <QtTest/QTest>

#include <climits>
#include <cmath>
#include <limits>

using namespace Synq;

/*
    RetrySettings (T5): the delay after each failed attempt and whether another attempt may
    follow. Settings are written as "initial*multiplier<=max~jitter", for example
    "1000*2<=60000~0" (the defaults without jitter); every expected delay is worked out by
    hand from the documented rule: initial * multiplier^(attempt-1), at most max, then moved
    by jitter * (2 * random01 - 1) of itself, and always within [0, max].
*/

namespace {

RetrySettings settingsOf(const QString &spec)
{
    // "initial*multiplier<=max~jitter"
    const qsizetype star = spec.indexOf(u'*');
    const qsizetype le = spec.indexOf(QStringLiteral("<="));
    const qsizetype tilde = spec.indexOf(u'~');
    Q_ASSERT(star > 0 && le > star && tilde > le);
    RetrySettings s;
    bool ok[4] = {};
    s.initialDelayMs = spec.left(star).toInt(&ok[0]);
    s.multiplier = spec.mid(star + 1, le - star - 1).toDouble(&ok[1]);
    s.maxDelayMs = spec.mid(le + 2, tilde - le - 2).toInt(&ok[2]);
    s.jitter = spec.mid(tilde + 1).toDouble(&ok[3]);
    Q_ASSERT(ok[0] && ok[1] && ok[2] && ok[3]);
    return s;
}

} // namespace

class tst_Backoff : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaults();
    void delayMs_data();
    void delayMs();
    void hugeAttemptNumbersAreCheap_data();
    void hugeAttemptNumbersAreCheap();
    void randomSettingsStayInBounds_data();
    void randomSettingsStayInBounds();
    void mayRetry_data();
    void mayRetry();
    void equality();
};

void tst_Backoff::defaults()
{
    // The seed's numbers (docs/sync.md, T5): 4 retries, from 1 s doubling to at most 60 s, ±25 %.
    const RetrySettings s;
    QCOMPARE(s.maxRetries, 4);
    QCOMPARE(s.initialDelayMs, 1000);
    QCOMPARE(s.maxDelayMs, 60000);
    QCOMPARE(s.multiplier, 2.0);
    QCOMPARE(s.jitter, 0.25);
}

void tst_Backoff::delayMs_data()
{
    QTest::addColumn<QString>("settings");
    QTest::addColumn<int>("attempt");
    QTest::addColumn<double>("random01");
    QTest::addColumn<int>("expected");

    auto row = [](const char *tag, const char *settings, int attempt, double random01,
                  int expected) {
        QTest::newRow(tag) << QString::fromLatin1(settings) << attempt << random01 << expected;
    };

    // Growth without jitter.
    row("the first failure waits the initial delay", "1000*2<=60000~0", 1, 0.5, 1000);
    row("the second failure waits twice as long", "1000*2<=60000~0", 2, 0.5, 2000);
    row("the third failure waits four times as long", "1000*2<=60000~0", 3, 0.5, 4000);
    row("the fourth failure waits eight times as long", "1000*2<=60000~0", 4, 0.5, 8000);
    row("the fifth failure waits sixteen times as long", "1000*2<=60000~0", 5, 0.5, 16000);
    row("the sixth failure waits 32 s", "1000*2<=60000~0", 6, 0.5, 32000);
    row("the seventh failure would wait 64 s and stops at the cap", "1000*2<=60000~0", 7, 0.5,
        60000);
    row("later failures stay at the cap", "1000*2<=60000~0", 8, 0.5, 60000);
    row("the hundredth failure stays at the cap", "1000*2<=60000~0", 100, 0.5, 60000);
    row("attempt INT_MAX stays at the cap", "1000*2<=60000~0", INT_MAX, 0.5, 60000);
    row("jitter 0 ignores random01 0", "1000*2<=60000~0", 3, 0.0, 4000);
    row("jitter 0 ignores random01 1", "1000*2<=60000~0", 3, 1.0, 4000);
    row("attempt 0 waits the initial delay", "1000*2<=60000~0", 0, 0.5, 1000);
    row("a negative attempt waits the initial delay", "1000*2<=60000~0", -5, 0.5, 1000);
    row("attempt INT_MIN waits the initial delay", "1000*2<=60000~0", INT_MIN, 0.5, 1000);

    row("multiplier 3: first", "500*3<=10000~0", 1, 0.5, 500);
    row("multiplier 3: second", "500*3<=10000~0", 2, 0.5, 1500);
    row("multiplier 3: third", "500*3<=10000~0", 3, 0.5, 4500);
    row("multiplier 3: fourth would be 13500 and is capped", "500*3<=10000~0", 4, 0.5, 10000);
    row("multiplier 1.5: fourth is 3375", "1000*1.5<=60000~0", 4, 0.5, 3375);
    row("multiplier 1.5: fifth is 5062.5, rounded half away from zero", "1000*1.5<=60000~0", 5,
        0.5, 5063);
    row("a delay exactly at the cap stays there", "1000*2<=8000~0", 4, 0.5, 8000);
    row("a delay one step below the cap is not capped", "1000*2<=8001~0", 4, 0.5, 8000);

    // Degenerate settings.
    row("multiplier 1 keeps the delay constant", "1000*1<=60000~0", 50, 0.5, 1000);
    row("multiplier 1 at attempt INT_MAX keeps the delay constant", "1000*1<=60000~0", INT_MAX,
        0.5, 1000);
    row("a multiplier below 1 does not shrink the delay", "1000*0.5<=60000~0", 5, 0.5, 1000);
    row("multiplier 0 does not zero the delay", "1000*0<=60000~0", 5, 0.5, 1000);
    row("a negative multiplier does not flip the delay", "1000*-2<=60000~0", 2, 0.5, 1000);
    row("a huge multiplier overflows to the cap, not to garbage", "1000*1e308<=60000~0", 3, 0.5,
        60000);
    row("an initial delay of 0 stays 0", "0*2<=60000~0", 10, 0.5, 0);
    row("an initial delay of 0 stays 0 at attempt INT_MAX", "0*2<=60000~0", INT_MAX, 0.5, 0);
    row("a negative initial delay counts as 0", "-100*2<=60000~0", 3, 0.5, 0);
    row("an initial delay above the cap starts at the cap", "5000*2<=3000~0", 1, 0.5, 3000);
    row("a cap of 0 means no delay", "1000*2<=0~0.25", 3, 1.0, 0);
    row("a negative cap means no delay", "1000*2<=-5~0", 1, 0.5, 0);
    row("cap INT_MAX is reachable without overflow", "1000*2<=2147483647~0", INT_MAX, 0.5,
        INT_MAX);
    row("cap INT_MAX with upward jitter stays INT_MAX", "1000*2<=2147483647~0.25", INT_MAX, 1.0,
        INT_MAX);
    row("cap INT_MAX at attempt 22 is 1000*2^21", "1000*2<=2147483647~0", 22, 0.5, 2097152000);
    row("cap INT_MAX at attempt 23 would be 4194304000 and is capped", "1000*2<=2147483647~0", 23,
        0.5, INT_MAX);

    // Jitter.
    row("random01 0.5 gives the delay without jitter", "1000*2<=60000~0.25", 1, 0.5, 1000);
    row("random01 0 takes a quarter off", "1000*2<=60000~0.25", 1, 0.0, 750);
    row("random01 1 adds a quarter", "1000*2<=60000~0.25", 1, 1.0, 1250);
    row("random01 0.25 takes an eighth off", "1000*2<=60000~0.25", 1, 0.25, 875);
    row("jitter applies after growth (down)", "1000*2<=60000~0.25", 3, 0.0, 3000);
    row("jitter applies after growth (up)", "1000*2<=60000~0.25", 3, 1.0, 5000);
    row("jitter at the cap may go down", "1000*2<=60000~0.25", 10, 0.0, 45000);
    row("jitter at the cap never goes above it", "1000*2<=60000~0.25", 10, 1.0, 60000);
    row("no jitter at the cap is the cap", "1000*2<=60000~0.25", 10, 0.5, 60000);
    row("jitter 1 with random01 0 means no delay", "1000*2<=60000~1", 1, 0.0, 0);
    row("jitter 1 with random01 1 doubles the delay", "1000*2<=60000~1", 1, 1.0, 2000);
    row("jitter above 1 counts as 1 (down)", "1000*2<=60000~2", 1, 0.0, 0);
    row("jitter above 1 counts as 1 (up)", "1000*2<=60000~2", 1, 1.0, 2000);
    row("a negative jitter counts as 0", "1000*2<=60000~-0.5", 1, 0.0, 1000);
    row("random01 below 0 counts as 0", "1000*2<=60000~0.25", 1, -1.0, 750);
    row("random01 above 1 counts as 1", "1000*2<=60000~0.25", 1, 2.0, 1250);
    row("a 0.75 ms delay rounds to 1", "1*2<=60000~0.25", 1, 0.0, 1);
    row("a 1.5 ms delay rounds up to 2", "3*2<=60000~0.5", 1, 0.0, 2);
    row("a 0.4 ms delay rounds down to 0", "2*2<=60000~0.8", 1, 0.0, 0);
}

void tst_Backoff::delayMs()
{
    QFETCH(QString, settings);
    QFETCH(int, attempt);
    QFETCH(double, random01);
    QFETCH(int, expected);

    QCOMPARE(settingsOf(settings).delayMs(attempt, random01), expected);
}

void tst_Backoff::hugeAttemptNumbersAreCheap_data()
{
    QTest::addColumn<QString>("settings");
    QTest::addColumn<int>("expected");

    // Settings under which the delay never reaches the cap: growth must not be a loop that
    // runs once per attempt (an attempt counter can get large on a long-lived dead letter).
    QTest::newRow("multiplier 1") << QStringLiteral("1000*1<=60000~0") << 1000;
    QTest::newRow("an initial delay of 0") << QStringLiteral("0*2<=60000~0") << 0;
    QTest::newRow("a multiplier below 1") << QStringLiteral("1000*0.5<=60000~0") << 1000;
    QTest::newRow("a multiplier just above 1 with a far cap")
            << QStringLiteral("1*1.0000001<=2147483647~0") << INT_MAX;
    QTest::newRow("the defaults") << QStringLiteral("1000*2<=60000~0") << 60000;
}

void tst_Backoff::hugeAttemptNumbersAreCheap()
{
    QFETCH(QString, settings);
    QFETCH(int, expected);

    const RetrySettings s = settingsOf(settings);
    QElapsedTimer clock;
    clock.start();
    for (int attempt : { INT_MAX, INT_MAX - 1, 1 << 30 })
        QCOMPARE(s.delayMs(attempt, 0.5), expected);
    // A constant-time formula takes microseconds; a loop per attempt takes seconds.
    QVERIFY2(clock.elapsed() < 500,
             qPrintable(QStringLiteral("three calls took %1 ms").arg(clock.elapsed())));
}

void tst_Backoff::randomSettingsStayInBounds_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("ten thousand random settings from seed 1") << 1u;
    QTest::newRow("ten thousand random settings from seed 2") << 2u;
    QTest::newRow("ten thousand random settings from seed 20240101") << 20240101u;
    const QByteArray extra = qgetenv("SYNQ_TEST_SEED");
    if (!extra.isEmpty())
        QTest::newRow("ten thousand random settings from SYNQ_TEST_SEED") << extra.toUInt();
}

void tst_Backoff::randomSettingsStayInBounds()
{
    QFETCH(quint32, seed);
    qInfo("seed %u", seed);

    QRandomGenerator random(seed);
    for (int run = 0; run < 10000; ++run) {
        RetrySettings s;
        s.initialDelayMs = random.bounded(-1000, 100000);
        s.maxDelayMs = random.bounded(-1000, 1000000);
        s.multiplier = random.bounded(5.0) - 1.0; // -1 .. 4
        s.jitter = random.bounded(1.5) - 0.25; // -0.25 .. 1.25
        const double r = random.generateDouble();
        const int attempt = random.bounded(8) == 0 ? int(random.bounded(uint(INT_MAX)))
                                                   : random.bounded(-2, 40);
        const QString where = QStringLiteral("seed %1 run %2: %3*%4<=%5~%6 attempt %7 r %8")
                                      .arg(seed)
                                      .arg(run)
                                      .arg(s.initialDelayMs)
                                      .arg(s.multiplier)
                                      .arg(s.maxDelayMs)
                                      .arg(s.jitter)
                                      .arg(attempt)
                                      .arg(r);

        // The documented formula, in the plain way (pow may overflow to inf: clamped below).
        const double cap = qMax(0, s.maxDelayMs);
        const double first = qBound(0.0, double(s.initialDelayMs), cap);
        const double factor = qMax(1.0, s.multiplier);
        const double grown = attempt <= 1 || first == 0.0
                ? first
                : qMin(cap, first * std::pow(factor, double(attempt - 1)));
        const double spread = qBound(0.0, s.jitter, 1.0);

        const int delay = s.delayMs(attempt, r);
        QVERIFY2(delay >= 0 && delay <= cap, qPrintable(where));
        QVERIFY2(delay >= std::floor(grown * (1.0 - spread)) - 1
                         && delay <= std::ceil(qMin(cap, grown * (1.0 + spread))) + 1,
                 qPrintable(where + QStringLiteral(": %1 not near %2").arg(delay).arg(grown)));
        // Without jitter (random01 0.5) the delay never shrinks from one attempt to the next.
        if (attempt < INT_MAX)
            QVERIFY2(s.delayMs(attempt, 0.5) <= s.delayMs(attempt + 1, 0.5), qPrintable(where));
        // More randomness never means less delay.
        QVERIFY2(s.delayMs(attempt, 0.0) <= delay && delay <= s.delayMs(attempt, 1.0),
                 qPrintable(where));
    }
}

void tst_Backoff::mayRetry_data()
{
    QTest::addColumn<int>("maxRetries");
    QTest::addColumn<int>("failedAttempts");
    QTest::addColumn<bool>("expected");

    QTest::newRow("defaults: never failed may try") << 4 << 0 << true;
    QTest::newRow("defaults: after the first failure there is a retry") << 4 << 1 << true;
    QTest::newRow("defaults: after the second failure there is a retry") << 4 << 2 << true;
    QTest::newRow("defaults: after the third failure there is a retry") << 4 << 3 << true;
    QTest::newRow("defaults: after the fourth failure the last retry is left") << 4 << 4 << true;
    QTest::newRow("defaults: after the fifth failure (four retries used) it is over")
            << 4 << 5 << false;
    QTest::newRow("defaults: far beyond is over") << 4 << 1000 << false;
    QTest::newRow("no retries: never failed may try") << 0 << 0 << true;
    QTest::newRow("no retries: the first failure is final") << 0 << 1 << false;
    QTest::newRow("one retry: after one failure it may retry") << 1 << 1 << true;
    QTest::newRow("one retry: after two failures it is over") << 1 << 2 << false;
    QTest::newRow("negative retries: nothing may retry") << -1 << 1 << false;
    QTest::newRow("INT_MAX retries: INT_MAX failures may still retry")
            << INT_MAX << INT_MAX << true;
}

void tst_Backoff::mayRetry()
{
    QFETCH(int, maxRetries);
    QFETCH(int, failedAttempts);
    QFETCH(bool, expected);

    RetrySettings s;
    s.maxRetries = maxRetries;
    QCOMPARE(s.mayRetry(failedAttempts), expected);
}

void tst_Backoff::equality()
{
    const RetrySettings a;
    QVERIFY(a == RetrySettings());
    auto changed = [](auto field, auto value) {
        RetrySettings s;
        s.*field = value;
        return s;
    };
    QVERIFY(!(a == changed(&RetrySettings::maxRetries, 5)));
    QVERIFY(!(a == changed(&RetrySettings::initialDelayMs, 999)));
    QVERIFY(!(a == changed(&RetrySettings::maxDelayMs, 1)));
    QVERIFY(!(a == changed(&RetrySettings::multiplier, 2.5)));
    QVERIFY(!(a == changed(&RetrySettings::jitter, 0.0)));
}

QTEST_GUILESS_MAIN(tst_Backoff)
#include "tst_backoff.moc"
