// SPDX-License-Identifier: BSD-3-Clause
#include "stateletters.h"

#include <synq/lifecycle.h>
#include <synq/ordering.h>

#include <QtCore/QRandomGenerator>
#include <QtCore/QRegularExpression>
#include <QtTest/QTest>

using namespace Synq;
using Ordering::Entry;

Q_DECLARE_METATYPE(Synq::TransactionState)
Q_DECLARE_METATYPE(Synq::StrategyKind)
Q_DECLARE_METATYPE(Synq::TransactionRecord)

/*
    The ordered strategy's rules (T3, T10). Outboxes are written one token per transaction, in
    commit order, separated by spaces:

        id:STATE[~][>behind][@±N][*N]:keys

        STATE   Q Queued, P Pending, S Persisting ("sending"), A PersistedAwaitingSync,
                C Completed, F Failed
        ~       parallel strategy (ordered without it)
        >t1     queuedBehind t1
        @+30    a scheduled retry due 30 s after Now (@-30: due 30 s ago, @+0: due now)
        *3      three mutations (default: one per key, at least one)
        keys    comma-separated item ids, possibly none

    For example "t1:P:a,b  t2:Q>t1:a  t3:S:b  t4:P~@+30:c". Results are written the same way:
    a batch's queue as "t2>t1 t4>t3", reassess() as "t2 t3>t4" (a bare id is released).
*/

namespace {

using S = TransactionState;
using StateLetters::letterOf;
using StateLetters::stateOf;

const QDateTime Now = QDateTime(QDate(2024, 1, 1), QTime(12, 0), Qt::UTC);



QList<Entry> outboxOf(const QString &spec)
{
    static const QRegularExpression token(QStringLiteral(
            "^(\\w+):([QPSACF])(~)?(?:>(\\w+))?(?:@([+-]\\d+))?(?:\\*(\\d+))?:([\\w,]*)$"));
    QList<Entry> out;
    for (const QString &t : spec.split(u' ', Qt::SkipEmptyParts)) {
        const QRegularExpressionMatch m = token.match(t);
        if (!m.hasMatch())
            qFatal("bad outbox token %s", qPrintable(t));
        Entry e;
        e.id = m.captured(1);
        e.state = stateOf(m.captured(2).at(0));
        e.strategy = m.hasCaptured(3) ? StrategyKind::Parallel : StrategyKind::Ordered;
        e.queuedBehind = m.captured(4);
        if (m.hasCaptured(5))
            e.dueAt = Now.addSecs(m.captured(5).toInt());
        e.keys = m.captured(7).split(u',', Qt::SkipEmptyParts);
        e.size = m.hasCaptured(6) ? m.captured(6).toInt() : qMax(1, int(e.keys.size()));
        out.append(e);
    }
    return out;
}

QString dueOf(const QDateTime &at)
{
    if (!at.isValid())
        return QString();
    const qint64 s = Now.secsTo(at);
    return (s < 0 ? QString() : QStringLiteral("+")) + QString::number(s);
}

QString describe(const QList<Entry> &outbox)
{
    QStringList out;
    for (const Entry &e : outbox) {
        QString t = e.id + u':' + letterOf(e.state);
        if (e.strategy == StrategyKind::Parallel)
            t += u'~';
        if (!e.queuedBehind.isEmpty())
            t += u'>' + e.queuedBehind;
        if (e.dueAt.isValid())
            t += u'@' + dueOf(e.dueAt);
        t += QStringLiteral("*%1:").arg(e.size) + e.keys.join(u',');
        out.append(t);
    }
    return out.join(u' ');
}

QString describe(const QList<QPair<QString, QString>> &moves)
{
    QStringList out;
    for (const auto &[id, behind] : moves)
        out.append(behind.isEmpty() ? id : id + u'>' + behind);
    return out.join(u' ');
}

bool shareKey(const Entry &a, const Entry &b)
{
    for (const QString &k : a.keys) {
        if (b.keys.contains(k))
            return true;
    }
    return false;
}

MutationRecord mutation(const QString &collection, const QString &key)
{
    MutationRecord m;
    m.collection = collection;
    m.key = key;
    return m;
}

} // namespace

class tst_Ordering : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void notation();
    void entryOf();
    void entryOfDueAt_data();
    void entryOfDueAt();
    void locks_data();
    void locks();
    void blockerFor_data();
    void blockerFor();
    void blockerForSkipsTheTransactionItself();
    void dependentsOf_data();
    void dependentsOf();
    void reassess_data();
    void reassess();
    void nextBatch_data();
    void nextBatch();
    void randomOutboxes_data();
    void randomOutboxes();
};

void tst_Ordering::notation()
{
    const QList<Entry> outbox = outboxOf(QStringLiteral("t1:P:a,b t2:Q~>t1@-30*3:c t3:F:"));
    QCOMPARE(outbox.size(), 3);
    QCOMPARE(outbox[0].id, QStringLiteral("t1"));
    QCOMPARE(outbox[0].state, S::Pending);
    QCOMPARE(outbox[0].strategy, StrategyKind::Ordered);
    QCOMPARE(outbox[0].keys, QStringList({ QStringLiteral("a"), QStringLiteral("b") }));
    QCOMPARE(outbox[0].size, 2);
    QVERIFY(!outbox[0].dueAt.isValid());
    QCOMPARE(outbox[1].state, S::Queued);
    QCOMPARE(outbox[1].strategy, StrategyKind::Parallel);
    QCOMPARE(outbox[1].queuedBehind, QStringLiteral("t1"));
    QCOMPARE(outbox[1].dueAt, Now.addSecs(-30));
    QCOMPARE(outbox[1].size, 3);
    QCOMPARE(outbox[2].state, S::Failed);
    QVERIFY(outbox[2].keys.isEmpty());
    QCOMPARE(outbox[2].size, 1);
    QCOMPARE(describe(outbox), QStringLiteral("t1:P*2:a,b t2:Q~>t1@-30*3:c t3:F*1:"));
}

void tst_Ordering::entryOf()
{
    TransactionRecord t;
    t.id = QStringLiteral("t7");
    t.state = S::Queued;
    t.strategy = StrategyKind::Parallel;
    t.queuedBehind = QStringLiteral("t3");
    t.mutations = { mutation(QStringLiteral("todos"), QStringLiteral("a")),
                    mutation(QStringLiteral("notes"), QStringLiteral("a")),
                    mutation(QStringLiteral("todos"), QStringLiteral("a")),
                    mutation(QStringLiteral("todos"), QStringLiteral("b")) };
    const Entry e = Entry::of(t);
    QCOMPARE(e.id, QStringLiteral("t7"));
    QCOMPARE(e.state, S::Queued);
    QCOMPARE(e.strategy, StrategyKind::Parallel);
    QCOMPARE(e.queuedBehind, QStringLiteral("t3"));
    // An item is collection and key; one item touched twice is one key; order of first touch.
    QCOMPARE(e.keys, QStringList({ QStringLiteral("todos/a"), QStringLiteral("notes/a"),
                                   QStringLiteral("todos/b") }));
    QCOMPARE(e.size, 4); // the batch limit counts mutations
    QVERIFY(!e.dueAt.isValid());

    t.mutations.clear();
    QCOMPARE(Entry::of(t).size, 0);
    QVERIFY(Entry::of(t).keys.isEmpty());
}

void tst_Ordering::entryOfDueAt_data()
{
    QTest::addColumn<TransactionRecord>("record");
    QTest::addColumn<QDateTime>("dueAt");

    const QDateTime later = Now.addSecs(30);
    TransactionRecord fresh;
    fresh.id = QStringLiteral("t1");
    fresh.mutations = { mutation(QStringLiteral("todos"), QStringLiteral("a")) };
    QTest::newRow("a fresh transaction is due now") << fresh << QDateTime();

    SyncError network(SyncError::Network, QStringLiteral("offline"));
    TransactionRecord retrying = fresh;
    QVERIFY(Lifecycle::startAttempt(retrying, QStringLiteral("a1"), Now));
    RetrySettings settings;
    settings.jitter = 0;
    settings.initialDelayMs = 30000;
    QCOMPARE(Lifecycle::attemptFailed(retrying, network, settings, Now, 0.5),
             Lifecycle::FailureOutcome::RetryScheduled);
    QTest::newRow("a retry is due when scheduled") << retrying << later;

    TransactionRecord queued = retrying;
    QVERIFY(Lifecycle::queue(queued, QStringLiteral("t0"), Now));
    QTest::newRow("a queued retry is not due") << queued << QDateTime();

    TransactionRecord retried = queued;
    QVERIFY(Lifecycle::dependencyFailed(retried, QStringLiteral("t0"), network, Now));
    QVERIFY(Lifecycle::retry(retried, Now));
    QTest::newRow("a retried dead letter is due now, not at its old schedule")
            << retried << QDateTime();
}

void tst_Ordering::entryOfDueAt()
{
    QFETCH(TransactionRecord, record);
    QFETCH(QDateTime, dueAt);

    // The same rule as the lifecycle's: the engine schedules by one, batches by the other.
    QCOMPARE(Entry::of(record).dueAt, dueAt);
    QCOMPARE(Lifecycle::dueAt(record), dueAt);
}

void tst_Ordering::locks_data()
{
    QTest::addColumn<TransactionState>("state");
    QTest::addColumn<StrategyKind>("strategy");
    QTest::addColumn<bool>("expected");

    QTest::newRow("an ordered queued transaction locks its keys")
            << S::Queued << StrategyKind::Ordered << true;
    QTest::newRow("an ordered pending transaction does not lock")
            << S::Pending << StrategyKind::Ordered << false;
    QTest::newRow("an ordered persisting transaction locks its keys")
            << S::Persisting << StrategyKind::Ordered << true;
    QTest::newRow("an ordered transaction awaiting sync locks its keys")
            << S::PersistedAwaitingSync << StrategyKind::Ordered << true;
    QTest::newRow("an ordered completed transaction does not lock")
            << S::Completed << StrategyKind::Ordered << false;
    QTest::newRow("an ordered failed transaction does not lock")
            << S::Failed << StrategyKind::Ordered << false;
    for (S state : { S::Queued, S::Pending, S::Persisting, S::PersistedAwaitingSync,
                     S::Completed, S::Failed }) {
        QTest::addRow("a parallel %s transaction does not lock", qPrintable(nameOf(state)))
                << state << StrategyKind::Parallel << false;
    }
}

void tst_Ordering::locks()
{
    QFETCH(TransactionState, state);
    QFETCH(StrategyKind, strategy);
    QFETCH(bool, expected);

    Entry e;
    e.state = state;
    e.strategy = strategy;
    e.keys = { QStringLiteral("a") };
    QCOMPARE(Ordering::locks(e), expected);
}

void tst_Ordering::blockerFor_data()
{
    QTest::addColumn<QString>("outbox"); // the last transaction is the one asking
    QTest::addColumn<QString>("expected");

    auto row = [](const char *tag, const char *outbox, const char *expected) {
        QTest::newRow(tag) << QString::fromLatin1(outbox) << QString::fromLatin1(expected);
    };
    row("nothing earlier: it may go", "t1:P:a", "");
    row("a persisting transaction on its key blocks it", "t1:S:a t2:P:a", "t1");
    row("a queued one blocks it", "t1:S:b t2:Q>t1:a,b t3:P:a", "t2");
    row("one awaiting sync blocks it", "t1:A:a t2:P:a", "t1");
    row("a pending one does not block it", "t1:P:a t2:P:a", "");
    row("a completed one does not block it", "t1:C:a t2:P:a", "");
    row("a failed one does not block it", "t1:F:a t2:P:a", "");
    row("a holder of another key does not block it", "t1:S:b t2:P:a", "");
    row("a parallel holder does not block it", "t1:S~:a t2:P:a", "");
    row("a parallel transaction never waits", "t1:S:a t2:Q>t1:a t3:P~:a", "");
    row("the most recent holder wins", "t1:S:a t2:Q>t1:a t3:P:a", "t2");
    row("the most recent holder wins across keys", "t1:S:a t2:S:b t3:P:a,b", "t2");
    row("the most recent holder wins whatever the key order", "t1:S:b t2:S:a t3:P:a,b", "t2");
    row("a later holder of another key does not count", "t1:S:a,b t2:S:c t3:P:a", "t1");
    row("a holder after non-holders", "t1:S:a t2:C:a t3:F:a t4:P:a t5:P:a", "t1");
    row("any shared key of several blocks", "t1:S:c t2:P:a,b,c", "t1");
    row("a queued transaction asks again", "t1:S:a t2:Q>t0:a", "t1");
    row("a transaction without keys never waits", "t1:S:a t2:P:", "");
}

void tst_Ordering::blockerFor()
{
    QFETCH(QString, outbox);
    QFETCH(QString, expected);

    QList<Entry> earlier = outboxOf(outbox);
    const Entry t = earlier.takeLast();
    QCOMPARE(Ordering::blockerFor(t, earlier), expected);
}

void tst_Ordering::blockerForSkipsTheTransactionItself()
{
    // The engine may hand in a list that holds t itself: t never waits for itself.
    const QList<Entry> outbox = outboxOf(QStringLiteral("t1:S:a t2:Q>t1:a"));
    QCOMPARE(Ordering::blockerFor(outbox[1], outbox), QStringLiteral("t1"));
    QCOMPARE(Ordering::blockerFor(outbox[1], outbox.mid(1)), QString());
}

void tst_Ordering::dependentsOf_data()
{
    QTest::addColumn<QString>("outbox");
    QTest::addColumn<QString>("failed");
    QTest::addColumn<QString>("expected");

    auto row = [](const char *tag, const char *outbox, const char *failed, const char *expected) {
        QTest::newRow(tag) << QString::fromLatin1(outbox) << QString::fromLatin1(failed)
                           << QString::fromLatin1(expected);
    };
    row("nothing waits: no dependents", "t1:S:a t2:P:b", "t1", "");
    row("the one queued behind it", "t1:S:a t2:Q>t1:a", "t1", "t2");
    row("a chain fails as a whole", "t1:S:a t2:Q>t1:a t3:Q>t2:a", "t1", "t2 t3");
    row("transitively across keys", "t1:S:a t2:Q>t1:a,b t3:Q>t2:b t4:Q>t3:b,c", "t1",
        "t2 t3 t4");
    row("branches, in commit order", "t1:S:a,b t2:Q>t1:a t3:Q>t1:b t4:Q>t2:a t5:Q>t3:b", "t1",
        "t2 t3 t4 t5");
    row("only queued ones: a pending one on the same key stays",
        "t1:S:a t2:P:a t3:Q>t1:a", "t1", "t3");
    row("a failed one that waited for it is not listed again", "t1:S:a t2:F>t1:a", "t1", "");
    row("one queued behind another holder stays", "t1:S:a t2:S:b t3:Q>t2:a,b", "t1", "");
    row("the middle of a chain takes only what follows",
        "t1:S:a t2:Q>t1:a t3:Q>t2:a t4:Q>t3:a", "t3", "t4");
    row("the failed one itself is not its own dependent", "t1:S:a t2:Q>t1:a", "t2", "");
    row("an unknown id has no dependents", "t1:S:a t2:Q>t1:a", "t9", "");
    row("an empty outbox has no dependents", "", "t1", "");
}

void tst_Ordering::dependentsOf()
{
    QFETCH(QString, outbox);
    QFETCH(QString, failed);
    QFETCH(QString, expected);

    QCOMPARE(Ordering::dependentsOf(failed, outboxOf(outbox)).join(u' '), expected);
}

void tst_Ordering::reassess_data()
{
    QTest::addColumn<QString>("outbox");
    QTest::addColumn<QString>("finished");
    QTest::addColumn<QString>("expected");

    auto row = [](const char *tag, const char *outbox, const char *finished,
                  const char *expected) {
        QTest::newRow(tag) << QString::fromLatin1(outbox) << QString::fromLatin1(finished)
                           << QString::fromLatin1(expected);
    };
    row("the one that waited is released", "t1:C:a t2:Q>t1:a", "t1", "t2");
    row("the finished one holds nothing, whatever its recorded state", "t1:S:a t2:Q>t1:a", "t1",
        "t2");
    row("a retried one holds nothing either", "t1:P:a t2:Q>t1:a", "t1", "t2");
    row("re-queued behind another holder of one of its keys", "t1:S:b t2:C:a t3:Q>t2:a,b", "t2",
        "t3>t1");
    row("re-queued behind the most recent other holder",
        "t1:S:b t2:A:b t3:C:a t4:Q>t3:a,b", "t3", "t4>t2");
    row("only those that waited for it move", "t1:C:a t2:S:b t3:Q>t1:a t4:Q>t2:b", "t1", "t3");
    // A released transaction is Pending, and Pending does not lock: the next in the chain is
    // released too. nextBatch then keeps them in order (the earlier one holds the later back).
    row("a chain behind it is released as a whole", "t1:C:a t2:Q>t1:a t3:Q>t2:a", "t1", "t2 t3");
    row("one re-queued still holds its keys for the next",
        "t1:C:a t2:S:b t3:Q>t1:a,b t4:Q>t3:a", "t1", "t3>t2 t4>t3");
    row("a chain link re-queued elsewhere takes its followers with it",
        "t1:S:c t2:C:a t3:Q>t2:a,c t4:Q>t3:a t5:Q>t4:a", "t2", "t3>t1 t4>t3 t5>t4");
    row("nothing waits: nothing moves", "t1:C:a t2:P:a t3:S:b", "t1", "");
    row("a finished transaction not in the list", "t2:Q>t1:a", "t1", "t2");
}

void tst_Ordering::reassess()
{
    QFETCH(QString, outbox);
    QFETCH(QString, finished);
    QFETCH(QString, expected);

    QCOMPARE(describe(Ordering::reassess(finished, outboxOf(outbox))), expected);
}

void tst_Ordering::nextBatch_data()
{
    QTest::addColumn<QString>("outbox");
    QTest::addColumn<int>("limit");
    QTest::addColumn<QString>("skip");
    QTest::addColumn<QString>("send");
    QTest::addColumn<QString>("queue");
    QTest::addColumn<QString>("nextDue");

    auto row = [](const char *tag, const char *outbox, int limit, const char *skip,
                  const char *send, const char *queue, const char *nextDue) {
        QTest::newRow(tag) << QString::fromLatin1(outbox) << limit << QString::fromLatin1(skip)
                           << QString::fromLatin1(send) << QString::fromLatin1(queue)
                           << QString::fromLatin1(nextDue);
    };
    // FIFO and size.
    row("an empty outbox sends nothing", "", 10, "", "", "", "");
    row("independent changes go together, in commit order", "t1:P:a t2:P:b t3:P:c", 10, "",
        "t1 t2 t3", "", "");
    row("the limit cuts the batch", "t1:P:a t2:P:b t3:P:c", 2, "", "t1 t2", "", "");
    row("the limit counts mutations, not transactions", "t1:P*3:a t2:P:b", 3, "", "t1", "", "");
    row("a batch can be filled exactly", "t1:P*2:a t2:P:b t3:P:c", 3, "", "t1 t2", "", "");
    row("a transaction larger than the limit goes alone", "t1:P*5:a t2:P:b", 2, "", "t1", "",
        "");
    row("limit 0 still sends one transaction", "t1:P:a t2:P:b", 0, "", "t1", "", "");
    row("a full batch lets no later, smaller one overtake", "t1:P*2:a t2:P*2:b t3:P:c", 3, "",
        "t1", "", "");
    row("a full batch holds parallel ones back too", "t1:P*2:a t2:P~*2:b t3:P~:c", 3, "", "t1",
        "", "");
    row("completed and failed transactions are not sent", "t1:C:a t2:F:b t3:P:c", 10, "", "t3",
        "", "");
    row("persisting, awaiting and queued ones are not sent again",
        "t1:S:a t2:A:b t3:Q>t1:a,c t4:P:d", 10, "", "t4", "", "");

    // Locks.
    row("a key held by a persisting transaction queues it", "t1:S:a t2:P:a", 10, "", "",
        "t2>t1", "");
    row("a key held by one awaiting sync queues it", "t1:A:a t2:P:a", 10, "", "", "t2>t1", "");
    row("a key held by a queued one queues it behind that one", "t1:S:b t2:Q>t1:a,b t3:P:a", 10,
        "", "", "t3>t2", "");
    row("completed and failed ones hold nothing", "t1:C:a t2:F:a t3:P:a", 10, "", "t3", "", "");
    row("behind the most recent holder", "t1:S:a t2:S:b t3:P:a,b", 10, "", "", "t3>t2", "");
    row("behind the most recent holder whatever the key order", "t1:S:b t2:S:a t3:P:b,a", 10,
        "", "", "t3>t2", "");
    row("one key of several is enough", "t1:S:c t2:P:a,b,c t3:P:d", 10, "", "t3", "t2>t1", "");
    row("a change in this batch holds its key: the next one waits for it", "t1:P:a t2:P:a", 10,
        "", "t1", "t2>t1", "");
    row("one queued in this batch holds its keys: a chain", "t1:S:a t2:P:a,b t3:P:b", 10, "",
        "", "t2>t1 t3>t2", "");
    row("multi-key: sent and queued by what they share", "t1:S:a t2:P:b,c t3:P:c,d t4:P:e", 10,
        "", "t2 t4", "t3>t2", "");
    row("a locked key queues even a retry that is not due", "t1:S:a t2:P@+30:a", 10, "", "",
        "t2>t1", "");
    row("a locked key queues even a skipped one", "t1:S:a t2:P:a", 10, "t2", "", "t2>t1", "");
    row("a locked key queues even when the batch is full", "t1:P*3:a t2:P:b t3:S:c t4:P:c", 3,
        "", "t1", "t4>t3", "");

    // Parallel transactions neither wait nor lock.
    row("a parallel one is sent while its key is held", "t1:S:a t2:P~:a", 10, "", "t2", "", "");
    row("a parallel one goes with an ordered one on its key", "t1:P:a t2:P~:a", 10, "",
        "t1 t2", "", "");
    row("a parallel one in the batch holds nothing", "t1:P~:a t2:P:a", 10, "", "t1 t2", "", "");
    row("a persisting parallel one holds nothing", "t1:S~:a t2:P:a", 10, "", "t2", "", "");
    row("a parallel retry not due holds nothing", "t1:P~@+30:a t2:P:a", 10, "", "t2", "", "+30");
    row("a skipped parallel one holds nothing", "t1:P~:a t2:P:a", 10, "t1", "t2", "", "");

    // Due retries.
    row("a retry not due yet stays, and says when", "t1:P@+30:a t2:P:b", 10, "", "t2", "",
        "+30");
    row("a retry due in the past goes", "t1:P@-30:a", 10, "", "t1", "", "");
    row("a retry due exactly now goes", "t1:P@+0:a", 10, "", "t1", "", "");
    row("the earliest of several retries is the next due",
        "t1:P@+60:a t2:P@+30:b t3:P@+90:c", 10, "", "", "", "+30");
    row("a retry not due does not fill the batch", "t1:P@+30:a t2:P:b", 1, "", "t2", "", "+30");
    row("a skipped retry still says when it is due", "t1:P@+30:a t2:P:b", 10, "t1", "t2", "",
        "+30");
    row("a retry behind a full batch still says when it is due", "t1:P*3:a t2:P@+30:b", 3, "",
        "t1", "", "+30");
    // t2 cannot go before t1 anyway: waking the run at +30 would send nothing.
    row("a retry held behind a later one does not wake the run early",
        "t1:P@+60:a t2:P@+30:a", 10, "", "", "", "+60");

    // Earlier changes held back hold later ones back, without queuing them.
    row("a retry not due holds a later change to its key back", "t1:P@+30:a t2:P:a t3:P:b", 10,
        "", "t3", "", "+30");
    row("a skipped change holds a later change to its key back", "t1:P:a t2:P:a t3:P:b", 10,
        "t1", "t3", "", "");
    row("a skipped one does not fill the batch", "t1:P:a t2:P:b", 1, "t1", "t2", "", "");
    row("a change behind a full batch holds a later change to its key back",
        "t1:P*2:a t2:P*2:b t3:P:b t4:P~:c", 3, "", "t1", "", "");
    row("held back spreads over shared keys", "t1:P@+30:a t2:P:a,b t3:P:b,c t4:P:c t5:P:d", 10,
        "", "t5", "", "+30");
    row("a held key and a locked key: queued behind the lock",
        "t1:P@+30:a t2:S:b t3:P:a,b", 10, "", "", "t3>t2", "+30");
    row("an ordered change without keys is never held", "t1:P@+30:a t2:P: t3:P:", 10, "",
        "t2 t3", "", "+30");
    row("skip names only the transactions given", "t1:P:a t2:P:a", 10, "t9", "t1", "t2>t1", "");
}

void tst_Ordering::nextBatch()
{
    QFETCH(QString, outbox);
    QFETCH(int, limit);
    QFETCH(QString, skip);
    QFETCH(QString, send);
    QFETCH(QString, queue);
    QFETCH(QString, nextDue);

    const QStringList skipped = skip.split(u' ', Qt::SkipEmptyParts);
    const Ordering::Batch batch = Ordering::nextBatch(
            outboxOf(outbox), limit, Now, QSet<QString>(skipped.cbegin(), skipped.cend()));
    QCOMPARE(batch.send.join(u' '), send);
    QCOMPARE(describe(batch.queue), queue);
    QCOMPARE(dueOf(batch.nextDue), nextDue);
}

void tst_Ordering::randomOutboxes_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("five thousand random outboxes from seed 1") << 1u;
    QTest::newRow("five thousand random outboxes from seed 2") << 2u;
    QTest::newRow("five thousand random outboxes from seed 3") << 3u;
    QTest::newRow("five thousand random outboxes from seed 20240101") << 20240101u;
    const QByteArray extra = qgetenv("SYNQ_TEST_SEED");
    if (!extra.isEmpty())
        QTest::newRow("five thousand random outboxes from SYNQ_TEST_SEED") << extra.toUInt();
}

/*
    Random outboxes against the rules, each stated on its own rather than the way nextBatch
    works through the outbox:
      - everything sent is Pending, due and not skipped;
      - no two ordered transactions sent share a key, and no ordered transaction is sent while
        an earlier unfinished ordered one holds one of its keys;
      - sending is FIFO: what is sent is the longest run of the sendable transactions, in commit
        order, that fits the limit (at least one);
      - an ordered Pending transaction is queued exactly when an earlier ordered one locks one of
        its keys, counting what is sent or queued in this batch, behind the most recent of those;
      - nextDue is the earliest future retry of the transactions that could go but for it.
*/
void tst_Ordering::randomOutboxes()
{
    QFETCH(quint32, seed);
    qInfo("seed %u", seed);

    QRandomGenerator random(seed);
    const QStringList keyPool = { QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c"),
                                  QStringLiteral("d"), QStringLiteral("e") };
    int sent = 0, queued = 0, held = 0, cut = 0, nextDues = 0;

    for (int run = 0; run < 5000; ++run) {
        QList<Entry> outbox;
        QSet<QString> skip;
        const int n = random.bounded(0, 12);
        for (int i = 0; i < n; ++i) {
            Entry e;
            e.id = QStringLiteral("t%1").arg(i + 1);
            e.strategy = random.bounded(4) == 0 ? StrategyKind::Parallel : StrategyKind::Ordered;
            const int s = random.bounded(100);
            e.state = s < 50 ? S::Pending
                    : s < 62 ? S::Queued
                    : s < 74 ? S::Persisting
                    : s < 82 ? S::PersistedAwaitingSync
                    : s < 91 ? S::Completed
                             : S::Failed;
            if (e.state == S::Queued && i > 0)
                e.queuedBehind = QStringLiteral("t%1").arg(random.bounded(1, i + 1));
            const int keyCount = random.bounded(10) == 0 ? 0 : random.bounded(1, 4);
            while (e.keys.size() < keyCount) {
                const QString k = keyPool.at(random.bounded(int(keyPool.size())));
                if (!e.keys.contains(k))
                    e.keys.append(k);
            }
            e.size = random.bounded(1, 4);
            const int due = random.bounded(10);
            if (due >= 6)
                e.dueAt = Now.addSecs(due == 9 ? 0 : random.bounded(-120, 121));
            if (e.state == S::Pending && random.bounded(10) == 0)
                skip.insert(e.id);
            outbox.append(e);
        }
        const int limit = random.bounded(0, 8);
        const Ordering::Batch batch = Ordering::nextBatch(outbox, limit, Now, skip);

        const QString where = QStringLiteral("seed %1 run %2: outbox \"%3\" limit %4 skip %5 -> "
                                             "send \"%6\" queue \"%7\" nextDue %8")
                                      .arg(seed)
                                      .arg(run)
                                      .arg(describe(outbox))
                                      .arg(limit)
                                      .arg(QStringList(skip.cbegin(), skip.cend()).join(u','))
                                      .arg(batch.send.join(u' '), describe(batch.queue),
                                           dueOf(batch.nextDue));
        auto position = [&](const QString &id) {
            for (qsizetype i = 0; i < outbox.size(); ++i) {
                if (outbox.at(i).id == id)
                    return i;
            }
            return qsizetype(-1);
        };
        auto isDue = [](const Entry &e) { return !e.dueAt.isValid() || e.dueAt <= Now; };
        auto isOrdered = [](const Entry &e) { return e.strategy == StrategyKind::Ordered; };

        // What is sent is Pending, due and not skipped, each once.
        QSet<QString> sentIds;
        for (const QString &id : batch.send) {
            const qsizetype i = position(id);
            QVERIFY2(i >= 0 && !sentIds.contains(id), qPrintable(where));
            sentIds.insert(id);
            const Entry &e = outbox.at(i);
            QVERIFY2(e.state == S::Pending, qPrintable(where + QStringLiteral(": not pending")));
            QVERIFY2(isDue(e), qPrintable(where + QStringLiteral(": not due")));
            QVERIFY2(!skip.contains(id), qPrintable(where + QStringLiteral(": skipped")));
        }
        // No two ordered ones sharing a key, none overtaking an unfinished earlier one.
        for (const QString &id : batch.send) {
            const qsizetype i = position(id);
            const Entry &e = outbox.at(i);
            if (!isOrdered(e))
                continue;
            for (qsizetype j = 0; j < i; ++j) {
                const Entry &o = outbox.at(j);
                if (!isOrdered(o) || !shareKey(e, o))
                    continue;
                QVERIFY2(!sentIds.contains(o.id),
                         qPrintable(where + QStringLiteral(": %1 and %2 share a key")
                                                   .arg(o.id, e.id)));
                QVERIFY2(!isActive(o.state),
                         qPrintable(where + QStringLiteral(": %1 overtakes %2").arg(e.id, o.id)));
            }
        }

        // FIFO: the sendable ones, in commit order; the batch is the longest run that fits.
        QStringList sendable;
        QList<int> sizes;
        for (qsizetype i = 0; i < outbox.size(); ++i) {
            const Entry &e = outbox.at(i);
            if (e.state != S::Pending || !isDue(e) || skip.contains(e.id))
                continue;
            bool free = true;
            for (qsizetype j = 0; j < i && isOrdered(e); ++j) {
                const Entry &o = outbox.at(j);
                if (isOrdered(o) && isActive(o.state) && shareKey(e, o))
                    free = false;
            }
            if (free) {
                sendable.append(e.id);
                sizes.append(e.size);
            }
        }
        qsizetype fits = 0;
        int total = 0;
        while (fits < sendable.size() && (fits == 0 || total + sizes.at(fits) <= limit))
            total += sizes.at(fits++);
        QVERIFY2(batch.send == sendable.mid(0, fits),
                 qPrintable(where + QStringLiteral(": sendable \"%1\"").arg(sendable.join(u' '))));
        if (fits < sendable.size())
            ++cut;

        // Queued: exactly the ordered Pending ones with a locked key, behind the latest locker.
        QList<QPair<QString, QString>> expectedQueue;
        QSet<QString> lockers;
        for (const Entry &e : std::as_const(outbox)) {
            if (isOrdered(e) && (e.state == S::Queued || e.state == S::Persisting
                                 || e.state == S::PersistedAwaitingSync))
                lockers.insert(e.id);
        }
        lockers.unite(sentIds);
        for (qsizetype i = 0; i < outbox.size(); ++i) {
            const Entry &e = outbox.at(i);
            if (e.state != S::Pending || !isOrdered(e) || sentIds.contains(e.id))
                continue;
            QString behind;
            for (qsizetype j = 0; j < i; ++j) {
                const Entry &o = outbox.at(j);
                if (isOrdered(o) && lockers.contains(o.id) && shareKey(e, o))
                    behind = o.id;
            }
            if (!behind.isEmpty()) {
                expectedQueue.append({ e.id, behind });
                lockers.insert(e.id);
            }
        }
        QVERIFY2(batch.queue == expectedQueue,
                 qPrintable(where + QStringLiteral(": expected queue \"%1\"")
                                            .arg(describe(expectedQueue))));

        // nextDue: the earliest future retry of those not queued and free of earlier changes.
        QDateTime earliest;
        QSet<QString> queuedIds;
        for (const auto &q : std::as_const(batch.queue))
            queuedIds.insert(q.first);
        for (qsizetype i = 0; i < outbox.size(); ++i) {
            const Entry &e = outbox.at(i);
            if (e.state != S::Pending || isDue(e) || queuedIds.contains(e.id))
                continue;
            bool free = true;
            for (qsizetype j = 0; j < i && isOrdered(e); ++j) {
                const Entry &o = outbox.at(j);
                if (isOrdered(o) && isActive(o.state) && shareKey(e, o))
                    free = false;
            }
            if (free && (!earliest.isValid() || e.dueAt < earliest))
                earliest = e.dueAt;
        }
        QVERIFY2(batch.nextDue == earliest && batch.nextDue.isValid() == earliest.isValid(),
                 qPrintable(where + QStringLiteral(": expected nextDue %1").arg(dueOf(earliest))));

        sent += int(batch.send.size());
        queued += int(batch.queue.size());
        nextDues += batch.nextDue.isValid() ? 1 : 0;
        for (const Entry &e : std::as_const(outbox)) {
            if (e.state == S::Pending && isOrdered(e) && !sentIds.contains(e.id)
                && !queuedIds.contains(e.id) && isDue(e) && !skip.contains(e.id))
                ++held;
        }
    }
    // The generator reaches every rule, so the checks above had something to check.
    QVERIFY(sent > 1000);
    QVERIFY(queued > 500);
    QVERIFY(held > 500);
    QVERIFY(cut > 500);
    QVERIFY(nextDues > 500);
}

QTEST_GUILESS_MAIN(tst_Ordering)
#include "tst_ordering.moc"
