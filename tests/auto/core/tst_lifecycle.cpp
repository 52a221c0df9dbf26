// SPDX-License-Identifier: BSD-3-Clause
#include "stateletters.h"

#include <synq/lifecycle.h>

#include <QtCore/QRandomGenerator>
#include <QtCore/QSet>
#include <QtTest/QTest>

#include <climits>
#include <functional>

using namespace Synq;

Q_DECLARE_METATYPE(Synq::TransactionState)
Q_DECLARE_METATYPE(Synq::Lifecycle::FailureOutcome)
Q_DECLARE_METATYPE(Synq::TransactionRecord)
Q_DECLARE_METATYPE(Synq::ConflictOutcome)

/*
    The transaction state machine (T1) event by event. Every event is tried in every state on a
    hand-written record typical of that state (fixture()), and the result is compared with the
    whole expected record, field by field (recordDiff()): a refused event must leave the record
    exactly as it was.

    The six states are abbreviated Q (Queued), P (Pending), S (Persisting: "sending"),
    A (PersistedAwaitingSync), C (Completed), F (Failed) in the tables below.
*/

namespace {

using S = TransactionState;
using StateLetters::stateOf;
using Lifecycle::FailureOutcome;

const QDateTime Epoch = QDateTime(QDate(2024, 1, 1), QTime(0, 0), Qt::UTC);
const QDateTime Before = Epoch.addSecs(60); // when the fixtures last changed
const QDateTime Now = Epoch.addSecs(3600); // when the event under test happens

const S AllStates[] = { S::Queued, S::Pending, S::Persisting, S::PersistedAwaitingSync,
                        S::Completed, S::Failed };


// What the mutations of a transaction in each state are (T1).
MutationState mutationStateFor(S state)
{
    switch (state) {
    case S::Persisting:
        return MutationState::Persisting;
    case S::PersistedAwaitingSync:
    case S::Completed:
        return MutationState::Synced;
    case S::Queued:
    case S::Pending:
    case S::Failed:
        break;
    }
    return MutationState::Created;
}

SyncError networkError()
{
    SyncError e(SyncError::Network, QStringLiteral("The server could not be reached."));
    e.setHttpStatus(503);
    return e; // retryable by default
}

SyncError validationError()
{
    SyncError e(SyncError::Validation, QStringLiteral("The title must not be empty."),
                QStringLiteral("field: title"));
    e.setHttpStatus(422);
    return e; // not retryable
}

SyncError queueFullError()
{
    return SyncError(SyncError::QueueFull, QStringLiteral("The outbox is full."));
}

SyncError conflictError()
{
    return SyncError(SyncError::Conflict, QStringLiteral("k1 is at version 9, not 3"));
}

SyncError dependencyError()
{
    SyncError e(SyncError::Validation,
                QStringLiteral("Cancelled because an earlier change to the same item failed: "
                               "The title must not be empty."));
    e.setRetryable(false);
    e.setTransactionId(QStringLiteral("t0"));
    return e;
}

MutationRecord mutation(int n, MutationType type, const QString &key, S state)
{
    MutationRecord m;
    m.id = QStringLiteral("m%1").arg(n);
    m.transactionId = QStringLiteral("t1");
    m.sequence = n - 1;
    m.collection = QStringLiteral("todos");
    m.key = key;
    m.type = type;
    m.baseVersion = type == MutationType::Insert ? 0 : 3;
    if (type != MutationType::Insert)
        m.original = { { QStringLiteral("title"), QStringLiteral("old") } };
    m.modified = { { QStringLiteral("title"), QStringLiteral("new %1").arg(n) } };
    m.changes = { { QStringLiteral("title"), QStringLiteral("new %1").arg(n) } };
    m.metadata = QJsonObject{ { QStringLiteral("by"), QStringLiteral("test") } };
    m.state = mutationStateFor(state);
    m.createdAt = Epoch;
    m.updatedAt = Before;
    return m;
}

// An attempt that failed on the network, its retry due before Now.
AttemptRecord failedAttempt(const QString &id)
{
    AttemptRecord a;
    a.id = id;
    a.startedAt = Before.addSecs(-10);
    a.completedAt = Before.addSecs(-9);
    a.error = networkError();
    a.retryScheduledFor = Before.addSecs(-8);
    return a;
}

AttemptRecord openAttempt(const QString &id, const QDateTime &at = Before)
{
    AttemptRecord a;
    a.id = id;
    a.startedAt = at;
    return a;
}

/*
    A record typical of each state:
        Q  queued behind t0, never attempted
        P  attempted once, failed on the network, its retry due
        S  as P, and its second attempt a2 is open
        A  attempt a1 succeeded, awaiting sync     C  as A, completed
        F  as P, then queued behind t0 and failed with it (dependency cancellation)
*/
TransactionRecord fixture(S state)
{
    TransactionRecord t;
    t.id = QStringLiteral("t1");
    t.scope = QStringLiteral("{\"list\":1}");
    t.strategy = StrategyKind::Ordered;
    t.state = state;
    t.createdAt = Epoch;
    t.updatedAt = Before;
    t.mutations = { mutation(1, MutationType::Update, QStringLiteral("a"), state),
                    mutation(2, MutationType::Insert, QStringLiteral("b"), state) };
    switch (state) {
    case S::Queued:
        t.queuedBehind = QStringLiteral("t0");
        break;
    case S::Pending:
        t.attempts = { failedAttempt(QStringLiteral("a1")) };
        t.currentAttempt = 1;
        t.error = networkError();
        break;
    case S::Persisting:
        t.attempts = { failedAttempt(QStringLiteral("a1")), openAttempt(QStringLiteral("a2")) };
        t.currentAttempt = 2;
        t.error = networkError();
        break;
    case S::PersistedAwaitingSync:
    case S::Completed: {
        AttemptRecord a = openAttempt(QStringLiteral("a1"), Before.addSecs(-1));
        a.completedAt = Before;
        t.attempts = { a };
        t.currentAttempt = 1;
        break;
    }
    case S::Failed:
        t.attempts = { failedAttempt(QStringLiteral("a1")) };
        t.currentAttempt = 1;
        t.queuedBehind = QStringLiteral("t0");
        t.error = dependencyError();
        break;
    }
    return t;
}

// The expected record after an accepted event: state, updatedAt and the mutations follow.
TransactionRecord moved(TransactionRecord t, S to, const QDateTime &at = Now)
{
    t.state = to;
    t.updatedAt = at;
    for (MutationRecord &m : t.mutations) {
        m.state = mutationStateFor(to);
        m.updatedAt = at;
    }
    return t;
}

QString describe(const SyncError &e)
{
    if (!e.isError())
        return QStringLiteral("(none)");
    return QStringLiteral("%1 \"%2\" detail=\"%3\" retryable=%4 http=%5 tx=%6 retryAfter=%7")
            .arg(e.codeName(), e.message(), e.detail())
            .arg(e.isRetryable())
            .arg(e.httpStatus())
            .arg(e.transactionId())
            .arg(e.retryAfterMs());
}

QString describe(const QDateTime &d)
{
    return d.isValid() ? d.toString(Qt::ISODateWithMs) : QStringLiteral("(invalid)");
}

// Every difference between two records, "" when they are the same in every field.
QString recordDiff(const TransactionRecord &a, const TransactionRecord &b)
{
    QStringList out;
    // The descriptions are made only for a difference: this runs on every step of the
    // random histories.
    auto differs = [&](const QString &field, const QString &x, const QString &y) {
        out.append(QStringLiteral("%1: %2 != %3").arg(field, x, y));
    };
    auto str = [&](const QString &field, const QString &x, const QString &y) {
        if (x != y)
            differs(field, QLatin1Char('"') + x + QLatin1Char('"'),
                    QLatin1Char('"') + y + QLatin1Char('"'));
    };
    auto num = [&](const QString &field, qint64 x, qint64 y) {
        if (x != y)
            differs(field, QString::number(x), QString::number(y));
    };
    auto time = [&](const QString &field, const QDateTime &x, const QDateTime &y) {
        if (x != y || x.isValid() != y.isValid())
            differs(field, describe(x), describe(y));
    };
    auto error = [&](const QString &field, const SyncError &x, const SyncError &y) {
        if (x != y)
            differs(field, describe(x), describe(y));
    };
    auto json = [&](const QString &field, const QJsonValue &x, const QJsonValue &y) {
        if (x != y)
            differs(field, x.toVariant().toString(), y.toVariant().toString());
    };
    auto state = [&](const QString &field, auto x, auto y) {
        if (x != y)
            differs(field, nameOf(x), nameOf(y));
    };

    str(QStringLiteral("id"), a.id, b.id);
    str(QStringLiteral("scope"), a.scope, b.scope);
    num(QStringLiteral("strategy"), int(a.strategy), int(b.strategy));
    state(QStringLiteral("state"), a.state, b.state);
    time(QStringLiteral("createdAt"), a.createdAt, b.createdAt);
    time(QStringLiteral("updatedAt"), a.updatedAt, b.updatedAt);
    num(QStringLiteral("currentAttempt"), a.currentAttempt, b.currentAttempt);
    str(QStringLiteral("queuedBehind"), a.queuedBehind, b.queuedBehind);
    str(QStringLiteral("mergedInto"), a.mergedInto, b.mergedInto);
    str(QStringLiteral("conflictOutcome"), nameOf(a.conflictOutcome), nameOf(b.conflictOutcome));
    error(QStringLiteral("error"), a.error, b.error);

    num(QStringLiteral("mutations.size"), a.mutations.size(), b.mutations.size());
    for (qsizetype i = 0; i < qMin(a.mutations.size(), b.mutations.size()); ++i) {
        const MutationRecord &x = a.mutations.at(i);
        const MutationRecord &y = b.mutations.at(i);
        const QString p = QStringLiteral("mutations[%1].").arg(i);
        str(p + QStringLiteral("id"), x.id, y.id);
        str(p + QStringLiteral("transactionId"), x.transactionId, y.transactionId);
        num(p + QStringLiteral("sequence"), x.sequence, y.sequence);
        str(p + QStringLiteral("collection"), x.collection, y.collection);
        str(p + QStringLiteral("key"), x.key, y.key);
        num(p + QStringLiteral("type"), int(x.type), int(y.type));
        num(p + QStringLiteral("baseVersion"), x.baseVersion, y.baseVersion);
        json(p + QStringLiteral("original"), x.original, y.original);
        json(p + QStringLiteral("modified"), x.modified, y.modified);
        json(p + QStringLiteral("changes"), x.changes, y.changes);
        json(p + QStringLiteral("metadata"), x.metadata, y.metadata);
        state(p + QStringLiteral("state"), x.state, y.state);
        time(p + QStringLiteral("createdAt"), x.createdAt, y.createdAt);
        time(p + QStringLiteral("updatedAt"), x.updatedAt, y.updatedAt);
    }

    num(QStringLiteral("attempts.size"), a.attempts.size(), b.attempts.size());
    for (qsizetype i = 0; i < qMin(a.attempts.size(), b.attempts.size()); ++i) {
        const AttemptRecord &x = a.attempts.at(i);
        const AttemptRecord &y = b.attempts.at(i);
        const QString p = QStringLiteral("attempts[%1].").arg(i);
        str(p + QStringLiteral("id"), x.id, y.id);
        time(p + QStringLiteral("startedAt"), x.startedAt, y.startedAt);
        time(p + QStringLiteral("completedAt"), x.completedAt, y.completedAt);
        error(p + QStringLiteral("error"), x.error, y.error);
        time(p + QStringLiteral("retryScheduledFor"), x.retryScheduledFor, y.retryScheduledFor);
    }
    return out.join(QStringLiteral("; "));
}

#define COMPARE_RECORDS(actual, expected)                                                         \
    do {                                                                                           \
        const QString diff_ = recordDiff(actual, expected);                                        \
        QVERIFY2(diff_.isEmpty(), qPrintable(QStringLiteral("actual vs expected: ") + diff_));     \
    } while (false)

enum class Event {
    Queue,
    Release,
    StartAttempt,
    Persisted,
    PersistedAwait,
    Synced,
    FailRetryable,
    FailFinal,
    Unreachable,
    Interrupted,
    DependencyFailed,
    Fail,
    Retry,
    SettleUnsent,
    AdoptServer,
    Rebase,
    Hold,
    Resolve,
};

const char *nameOf(Event e)
{
    switch (e) {
    case Event::Queue: return "queue";
    case Event::Release: return "release";
    case Event::StartAttempt: return "startAttempt";
    case Event::Persisted: return "persisted";
    case Event::PersistedAwait: return "persisted(awaitSync)";
    case Event::Synced: return "synced";
    case Event::FailRetryable: return "attemptFailed(retryable)";
    case Event::FailFinal: return "attemptFailed(not retryable)";
    case Event::Unreachable: return "unreachable";
    case Event::Interrupted: return "interrupted";
    case Event::DependencyFailed: return "dependencyFailed";
    case Event::Fail: return "fail";
    case Event::Retry: return "retry";
    case Event::SettleUnsent: return "settleUnsent";
    case Event::AdoptServer: return "adoptServer";
    case Event::Rebase: return "rebase";
    case Event::Hold: return "hold";
    case Event::Resolve: return "resolve";
    }
    return "?";
}

// Applies an event with typical arguments; whether it was accepted.
bool apply(Event e, TransactionRecord &t, const QDateTime &now)
{
    switch (e) {
    case Event::Queue:
        return Lifecycle::queue(t, QStringLiteral("t9"), now);
    case Event::Release:
        return Lifecycle::release(t, now);
    case Event::StartAttempt:
        return Lifecycle::startAttempt(t, QStringLiteral("a9"), now);
    case Event::Persisted:
        return Lifecycle::persisted(t, false, now);
    case Event::PersistedAwait:
        return Lifecycle::persisted(t, true, now);
    case Event::Synced:
        return Lifecycle::synced(t, now);
    case Event::FailRetryable:
        return Lifecycle::attemptFailed(t, networkError(), RetrySettings(), now, 0.5)
                != FailureOutcome::Illegal;
    case Event::FailFinal:
        return Lifecycle::attemptFailed(t, validationError(), RetrySettings(), now, 0.5)
                != FailureOutcome::Illegal;
    case Event::Unreachable:
        return Lifecycle::unreachable(t, now);
    case Event::Interrupted:
        return Lifecycle::interrupted(t, now);
    case Event::DependencyFailed:
        return Lifecycle::dependencyFailed(t, QStringLiteral("t0"), validationError(), now);
    case Event::Fail:
        return Lifecycle::fail(t, queueFullError(), now);
    case Event::Retry:
        return Lifecycle::retry(t, now);
    case Event::SettleUnsent:
        return Lifecycle::settleUnsent(t, now);
    case Event::AdoptServer:
        return Lifecycle::adoptServer(t, conflictError(), now);
    case Event::Rebase:
        return Lifecycle::rebase(t, conflictError(), RetrySettings(), now)
                != FailureOutcome::Illegal;
    case Event::Hold:
        return Lifecycle::hold(t, conflictError(), now);
    case Event::Resolve:
        return Lifecycle::resolve(t, ConflictOutcome::AdoptServer, now);
    }
    return false;
}

/*
    Every event in every state, written out: the state it leads to from fixture(state), or "-"
    when the event is refused there. From the state diagram in lifecycle.h.
*/
struct EventRow
{
    Event event;
    const char *results; // six entries for Q P S A C F
};
const EventRow EventTable[] = {
    //                          Q P S A C F
    { Event::Queue,            "Q Q - - - -" },
    { Event::Release,          "P - - - - -" },
    { Event::StartAttempt,     "- S - - - -" },
    { Event::Persisted,        "- - C - - -" },
    { Event::PersistedAwait,   "- - A - - -" },
    { Event::Synced,           "- - - C - -" },
    { Event::FailRetryable,    "- - P - - -" },
    { Event::FailFinal,        "- - F - - -" },
    { Event::Unreachable,      "- - P - - -" },
    { Event::Interrupted,      "- - P - - -" },
    { Event::DependencyFailed, "F F - - - -" },
    { Event::Fail,             "F F - - - -" },
    { Event::Retry,            "- - - - - P" },
    { Event::SettleUnsent,     "C C - - - -" },
    { Event::AdoptServer,      "- - C - - -" },
    { Event::Rebase,           "- - P - - -" },
    { Event::Hold,             "- - P - - -" },
    { Event::Resolve,          "- - - - - -" }, // only a held transaction: resolve() below
};

// canTransition, all 36 pairs: row = from, column = to (Q P S A C F); 1 = allowed.
const char *const TransitionTable[] = {
    //         Q P S A C F
    /* Q */   "0 1 0 0 1 1",
    /* P */   "1 0 1 0 1 1",
    /* S */   "0 1 0 1 1 1",
    /* A */   "0 0 0 0 1 0",
    /* C */   "0 0 0 0 0 0",
    /* F */   "1 1 0 0 0 0",
};

} // namespace

// Readable failure messages for QCOMPARE.
namespace Synq {
char *toString(const TransactionState &state)
{
    return QTest::toString(nameOf(state));
}
namespace Lifecycle {
char *toString(const FailureOutcome &outcome)
{
    switch (outcome) {
    case FailureOutcome::Illegal: return qstrdup("Illegal");
    case FailureOutcome::RetryScheduled: return qstrdup("RetryScheduled");
    case FailureOutcome::Failed: return qstrdup("Failed");
    }
    return qstrdup("?");
}
} // namespace Lifecycle
} // namespace Synq

class tst_Lifecycle : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void recordDiffSeesEveryField();
    void fixturesAreConsistent();

    void canTransition_data();
    void canTransition();
    void eventsMakeExactlyTheAllowedTransitions();

    void eventInEveryState_data();
    void eventInEveryState();

    void queue_data();
    void queue();
    void queueRefusesNoOneAndItself_data();
    void queueRefusesNoOneAndItself();
    void release();
    void startAttempt();
    void startAttemptNeedsAnId();
    void persisted_data();
    void persisted();
    void synced();
    void attemptFailed_data();
    void attemptFailed();
    void retriesRunOutAfterMaxRetriesPlusOneAttempts_data();
    void retriesRunOutAfterMaxRetriesPlusOneAttempts();
    void unreachable_data();
    void unreachable();
    void interrupted();
    void dependencyFailed_data();
    void dependencyFailed();
    void dependencyFailedNeedsACause();
    void fail_data();
    void fail();
    void retry();
    void settleUnsent_data();
    void settleUnsent();
    void adoptServer();
    void rebase_data();
    void rebase();
    void holdWaitsForTheApp();
    void resolve_data();
    void resolve();
    void dueAt_data();
    void dueAt();

    void randomEventSequences_data();
    void randomEventSequences();
};

void tst_Lifecycle::recordDiffSeesEveryField()
{
    // The helper is what makes "the record is unchanged" checkable: it must see every field.
    const TransactionRecord base = fixture(S::Persisting);
    QVERIFY(recordDiff(base, base).isEmpty());
    QList<std::function<void(TransactionRecord &)>> changes = {
        [](TransactionRecord &t) { t.id = QStringLiteral("x"); },
        [](TransactionRecord &t) { t.scope = QStringLiteral("x"); },
        [](TransactionRecord &t) { t.strategy = StrategyKind::Parallel; },
        [](TransactionRecord &t) { t.state = S::Pending; },
        [](TransactionRecord &t) { t.createdAt = Now; },
        [](TransactionRecord &t) { t.updatedAt = Now; },
        [](TransactionRecord &t) { t.updatedAt = QDateTime(); },
        [](TransactionRecord &t) { t.currentAttempt = 7; },
        [](TransactionRecord &t) { t.queuedBehind = QStringLiteral("x"); },
        [](TransactionRecord &t) { t.mergedInto = QStringLiteral("x"); },
        [](TransactionRecord &t) { t.conflictOutcome = ConflictOutcome::Skipped; },
        [](TransactionRecord &t) { t.error = SyncError(); },
        [](TransactionRecord &t) { t.error.setRetryAfterMs(5); },
        [](TransactionRecord &t) { t.mutations.removeLast(); },
        [](TransactionRecord &t) { t.mutations[1].id = QStringLiteral("x"); },
        [](TransactionRecord &t) { t.mutations[1].transactionId = QStringLiteral("x"); },
        [](TransactionRecord &t) { t.mutations[1].sequence = 9; },
        [](TransactionRecord &t) { t.mutations[1].collection = QStringLiteral("x"); },
        [](TransactionRecord &t) { t.mutations[1].key = QStringLiteral("x"); },
        [](TransactionRecord &t) { t.mutations[1].type = MutationType::Remove; },
        [](TransactionRecord &t) { t.mutations[1].baseVersion = 9; },
        [](TransactionRecord &t) { t.mutations[0].original = {}; },
        [](TransactionRecord &t) { t.mutations[1].modified = {}; },
        [](TransactionRecord &t) { t.mutations[1].changes = {}; },
        [](TransactionRecord &t) { t.mutations[1].metadata = QJsonValue(); },
        [](TransactionRecord &t) { t.mutations[1].state = MutationState::Synced; },
        [](TransactionRecord &t) { t.mutations[1].createdAt = Now; },
        [](TransactionRecord &t) { t.mutations[1].updatedAt = Now; },
        [](TransactionRecord &t) { t.attempts.removeLast(); },
        [](TransactionRecord &t) { t.attempts[1].id = QStringLiteral("x"); },
        [](TransactionRecord &t) { t.attempts[1].startedAt = Now; },
        [](TransactionRecord &t) { t.attempts[1].completedAt = Now; },
        [](TransactionRecord &t) { t.attempts[1].error = networkError(); },
        [](TransactionRecord &t) { t.attempts[1].retryScheduledFor = Now; },
        [](TransactionRecord &t) { t.attempts[0].retryScheduledFor = QDateTime(); },
    };
    for (qsizetype i = 0; i < changes.size(); ++i) {
        TransactionRecord changed = base;
        changes[i](changed);
        QVERIFY2(!recordDiff(changed, base).isEmpty(),
                 qPrintable(QStringLiteral("change %1 went unnoticed").arg(i)));
    }
}

void tst_Lifecycle::fixturesAreConsistent()
{
    for (S state : AllStates) {
        const TransactionRecord t = fixture(state);
        QCOMPARE(t.state, state);
        for (const MutationRecord &m : t.mutations)
            QCOMPARE(m.state, mutationStateFor(state));
        const bool open = !t.attempts.isEmpty() && !t.attempts.constLast().completedAt.isValid();
        QCOMPARE(open, state == S::Persisting);
        QCOMPARE(t.currentAttempt, int(t.attempts.size()));
    }
}

void tst_Lifecycle::canTransition_data()
{
    QTest::addColumn<TransactionState>("from");
    QTest::addColumn<TransactionState>("to");
    QTest::addColumn<bool>("allowed");

    for (int f = 0; f < 6; ++f) {
        const QStringList cells = QString::fromLatin1(TransitionTable[f]).split(u' ');
        QCOMPARE(cells.size(), 6);
        for (int t = 0; t < 6; ++t) {
            const bool allowed = cells.at(t) == QLatin1String("1");
            QTest::addRow("%s to %s is %s", qPrintable(nameOf(AllStates[f])),
                          qPrintable(nameOf(AllStates[t])), allowed ? "allowed" : "not allowed")
                    << AllStates[f] << AllStates[t] << allowed;
        }
    }
}

void tst_Lifecycle::canTransition()
{
    QFETCH(TransactionState, from);
    QFETCH(TransactionState, to);
    QFETCH(bool, allowed);

    QCOMPARE(Lifecycle::canTransition(from, to), allowed);
}

void tst_Lifecycle::eventsMakeExactlyTheAllowedTransitions()
{
    // The two hand-written tables agree: every move an event makes is allowed, and every allowed
    // move is made by some event, except Failed -> Queued, which the engine makes in two steps
    // (retry, then queue behind a holder: SyncEngine::retry).
    QSet<QPair<int, int>> made;
    for (const EventRow &row : EventTable) {
        const QStringList cells = QString::fromLatin1(row.results).split(u' ');
        for (int f = 0; f < 6; ++f) {
            if (cells.at(f) != QLatin1String("-") && stateOf(cells.at(f).at(0)) != AllStates[f])
                made.insert({ f, int(stateOf(cells.at(f).at(0))) });
        }
    }
    QSet<QPair<int, int>> allowed;
    for (int f = 0; f < 6; ++f) {
        const QStringList cells = QString::fromLatin1(TransitionTable[f]).split(u' ');
        for (int t = 0; t < 6; ++t) {
            if (cells.at(t) == QLatin1String("1"))
                allowed.insert({ f, int(AllStates[t]) });
        }
    }
    allowed.remove({ 5, int(S::Queued) });
    QCOMPARE(made, allowed);
}

void tst_Lifecycle::eventInEveryState_data()
{
    QTest::addColumn<int>("event");
    QTest::addColumn<TransactionState>("from");
    QTest::addColumn<QString>("expected"); // a state letter, or "-" for refused

    for (const EventRow &row : EventTable) {
        const QStringList cells = QString::fromLatin1(row.results).split(u' ');
        QCOMPARE(cells.size(), 6);
        for (int f = 0; f < 6; ++f) {
            const QString cell = cells.at(f);
            if (cell == QLatin1String("-")) {
                QTest::addRow("%s is refused in %s", nameOf(row.event),
                              qPrintable(nameOf(AllStates[f])))
                        << int(row.event) << AllStates[f] << cell;
            } else {
                QTest::addRow("%s moves %s to %s", nameOf(row.event),
                              qPrintable(nameOf(AllStates[f])),
                              qPrintable(nameOf(stateOf(cell.at(0)))))
                        << int(row.event) << AllStates[f] << cell;
            }
        }
    }
}

void tst_Lifecycle::eventInEveryState()
{
    QFETCH(int, event);
    QFETCH(TransactionState, from);
    QFETCH(QString, expected);

    const TransactionRecord before = fixture(from);
    TransactionRecord t = before;
    const bool accepted = apply(Event(event), t, Now);

    if (expected == QLatin1String("-")) {
        QVERIFY(!accepted);
        COMPARE_RECORDS(t, before);
        return;
    }
    QVERIFY(accepted);
    const S to = stateOf(expected.at(0));
    QCOMPARE(t.state, to);
    QVERIFY(from == to || Lifecycle::canTransition(from, to));
    QCOMPARE(t.updatedAt, Now);
    for (const MutationRecord &m : t.mutations) {
        QCOMPARE(m.state, mutationStateFor(to));
        QCOMPARE(m.updatedAt, Now);
    }
    // No event touches what the transaction is: its identity, scope, strategy, creation time,
    // merge and its mutations' content. (What each event does change: the tests below.)
    TransactionRecord rest = t;
    rest.state = before.state;
    rest.updatedAt = before.updatedAt;
    rest.attempts = before.attempts;
    rest.currentAttempt = before.currentAttempt;
    rest.queuedBehind = before.queuedBehind;
    rest.error = before.error;
    rest.conflictOutcome = before.conflictOutcome; // the conflict events record their outcome
    for (qsizetype i = 0; i < rest.mutations.size() && i < before.mutations.size(); ++i) {
        rest.mutations[i].state = before.mutations.at(i).state;
        rest.mutations[i].updatedAt = before.mutations.at(i).updatedAt;
    }
    COMPARE_RECORDS(rest, before);
}

void tst_Lifecycle::queue_data()
{
    QTest::addColumn<TransactionState>("from");
    QTest::newRow("a pending transaction waits behind t9") << S::Pending;
    QTest::newRow("a queued transaction now waits behind t9 instead of t0") << S::Queued;
}

void tst_Lifecycle::queue()
{
    QFETCH(TransactionState, from);

    TransactionRecord t = fixture(from);
    TransactionRecord expected = moved(t, S::Queued);
    expected.queuedBehind = QStringLiteral("t9");
    QVERIFY(Lifecycle::queue(t, QStringLiteral("t9"), Now));
    // Its attempts, retry count and last error stay: a queued retry keeps its history.
    COMPARE_RECORDS(t, expected);
}

void tst_Lifecycle::queueRefusesNoOneAndItself_data()
{
    QTest::addColumn<TransactionState>("from");
    QTest::addColumn<QString>("behind");
    QTest::newRow("pending, behind no one") << S::Pending << QString();
    QTest::newRow("pending, behind itself") << S::Pending << QStringLiteral("t1");
    QTest::newRow("queued, behind no one") << S::Queued << QString();
    QTest::newRow("queued, behind itself") << S::Queued << QStringLiteral("t1");
}

void tst_Lifecycle::queueRefusesNoOneAndItself()
{
    QFETCH(TransactionState, from);
    QFETCH(QString, behind);

    const TransactionRecord before = fixture(from);
    TransactionRecord t = before;
    QVERIFY(!Lifecycle::queue(t, behind, Now));
    COMPARE_RECORDS(t, before);
}

void tst_Lifecycle::release()
{
    TransactionRecord t = fixture(S::Queued);
    TransactionRecord expected = moved(t, S::Pending);
    expected.queuedBehind.clear();
    QVERIFY(Lifecycle::release(t, Now));
    COMPARE_RECORDS(t, expected);
    QVERIFY(!Lifecycle::dueAt(t).isValid()); // never attempted: due at once
}

void tst_Lifecycle::startAttempt()
{
    TransactionRecord t = fixture(S::Pending);
    TransactionRecord expected = moved(t, S::Persisting);
    expected.attempts.append(openAttempt(QStringLiteral("a9"), Now));
    expected.currentAttempt = 2;
    QVERIFY(Lifecycle::startAttempt(t, QStringLiteral("a9"), Now));
    COMPARE_RECORDS(t, expected);

    // A fresh transaction's first attempt is attempt 1.
    TransactionRecord fresh = fixture(S::Queued);
    QVERIFY(Lifecycle::release(fresh, Before));
    QVERIFY(Lifecycle::startAttempt(fresh, QStringLiteral("a1"), Now));
    QCOMPARE(fresh.currentAttempt, 1);
    QCOMPARE(fresh.attempts.size(), 1);
    QCOMPARE(fresh.attempts.constFirst().id, QStringLiteral("a1"));
    QCOMPARE(fresh.attempts.constFirst().startedAt, Now);
    QVERIFY(!fresh.attempts.constFirst().completedAt.isValid());
    QVERIFY(!fresh.attempts.constFirst().error.isError());
    QVERIFY(!fresh.attempts.constFirst().retryScheduledFor.isValid());
}

void tst_Lifecycle::startAttemptNeedsAnId()
{
    const TransactionRecord before = fixture(S::Pending);
    TransactionRecord t = before;
    QVERIFY(!Lifecycle::startAttempt(t, QString(), Now));
    COMPARE_RECORDS(t, before);
}

void tst_Lifecycle::persisted_data()
{
    QTest::addColumn<bool>("awaitSync");
    QTest::addColumn<TransactionState>("to");
    QTest::newRow("persisted completes") << false << S::Completed;
    QTest::newRow("persisted with await-sync waits for the change to come back")
            << true << S::PersistedAwaitingSync;
}

void tst_Lifecycle::persisted()
{
    QFETCH(bool, awaitSync);
    QFETCH(TransactionState, to);

    TransactionRecord t = fixture(S::Persisting);
    TransactionRecord expected = moved(t, to);
    expected.attempts[1].completedAt = Now; // closed without an error
    expected.currentAttempt = 2;
    expected.error = SyncError(); // the earlier attempt's error is over
    QVERIFY(Lifecycle::persisted(t, awaitSync, Now));
    COMPARE_RECORDS(t, expected);
}

void tst_Lifecycle::synced()
{
    TransactionRecord t = fixture(S::PersistedAwaitingSync);
    const TransactionRecord expected = moved(t, S::Completed);
    QVERIFY(Lifecycle::synced(t, Now));
    COMPARE_RECORDS(t, expected);
}

void tst_Lifecycle::attemptFailed_data()
{
    QTest::addColumn<int>("attempt"); // the number of the attempt that fails (currentAttempt)
    QTest::addColumn<int>("maxRetries");
    QTest::addColumn<bool>("retryable");
    QTest::addColumn<int>("retryAfterMs"); // -1: the server did not say
    QTest::addColumn<double>("random01");
    QTest::addColumn<FailureOutcome>("outcome");
    QTest::addColumn<int>("delayMs"); // after Now; -1: no retry scheduled

    const auto R = FailureOutcome::RetryScheduled;
    const auto F = FailureOutcome::Failed;
    auto row = [](const char *tag, int attempt, int maxRetries, bool retryable, int retryAfterMs,
                  double random01, FailureOutcome outcome, int delayMs) {
        QTest::newRow(tag) << attempt << maxRetries << retryable << retryAfterMs << random01
                           << outcome << delayMs;
    };
    // Default settings: 1 s doubling, at most 60 s, ±25 %.
    //  tag                                                   attempt max retryable RA  random
    row("the first retryable failure retries after 1 s",          1, 4, true, -1, 0.5, R, 1000);
    row("the second after 2 s",                                   2, 4, true, -1, 0.5, R, 2000);
    row("the third after 4 s",                                    3, 4, true, -1, 0.5, R, 4000);
    row("the fourth after 8 s",                                   4, 4, true, -1, 0.5, R, 8000);
    row("the fifth attempt was the last: a dead letter",          5, 4, true, -1, 0.5, F, -1);
    row("a sixth attempt (after an interruption) fails too",      6, 4, true, -1, 0.5, F, -1);
    row("jitter down: random01 0 takes a quarter off",            1, 4, true, -1, 0.0, R, 750);
    row("jitter up: random01 1 adds a quarter",                   3, 4, true, -1, 1.0, R, 5000);
    row("a Retry-After longer than the delay wins",               1, 4, true, 5000, 0.5, R, 5000);
    row("a Retry-After shorter than the delay loses",             3, 4, true, 500, 0.5, R, 4000);
    row("a Retry-After of 0 loses",                               1, 4, true, 0, 0.5, R, 1000);
    row("a Retry-After beyond the cap still wins",     1, 4, true, 120000, 0.5, R, 120000);
    row("a Retry-After does not bring back exhausted retries",    5, 4, true, 5000, 0.5, F, -1);
    row("a non-retryable error fails at once",                    1, 4, false, -1, 0.5, F, -1);
    row("a non-retryable error with a Retry-After fails at once", 1, 4, false, 5000, 0.5, F, -1);
    row("maxRetries 0: the first retryable failure is final",     1, 0, true, -1, 0.5, F, -1);
    row("maxRetries 1: the first retries",                        1, 1, true, -1, 0.5, R, 1000);
    row("maxRetries 1: the second is final",                      2, 1, true, -1, 0.5, F, -1);
    row("negative maxRetries: never retried",                     1, -1, true, -1, 0.5, F, -1);
}

void tst_Lifecycle::attemptFailed()
{
    QFETCH(int, attempt);
    QFETCH(int, maxRetries);
    QFETCH(bool, retryable);
    QFETCH(int, retryAfterMs);
    QFETCH(double, random01);
    QFETCH(FailureOutcome, outcome);
    QFETCH(int, delayMs);

    // Persisting with `attempt` attempts, the last one open.
    TransactionRecord t = fixture(S::Persisting);
    t.attempts.clear();
    for (int i = 1; i < attempt; ++i)
        t.attempts.append(failedAttempt(QStringLiteral("a%1").arg(i)));
    t.attempts.append(openAttempt(QStringLiteral("a%1").arg(attempt)));
    t.currentAttempt = attempt;

    SyncError error = retryable ? networkError() : validationError();
    if (retryAfterMs >= 0)
        error.setRetryAfterMs(retryAfterMs);
    RetrySettings settings;
    settings.maxRetries = maxRetries;

    const S to = outcome == FailureOutcome::Failed ? S::Failed : S::Pending;
    TransactionRecord expected = moved(t, to);
    expected.error = error;
    expected.attempts.last().completedAt = Now;
    expected.attempts.last().error = error;
    if (delayMs >= 0)
        expected.attempts.last().retryScheduledFor = Now.addMSecs(delayMs);
    expected.currentAttempt = attempt; // it counted

    QCOMPARE(Lifecycle::attemptFailed(t, error, settings, Now, random01), outcome);
    COMPARE_RECORDS(t, expected);
    QCOMPARE(Lifecycle::dueAt(t), delayMs >= 0 ? Now.addMSecs(delayMs) : QDateTime());
}

void tst_Lifecycle::retriesRunOutAfterMaxRetriesPlusOneAttempts_data()
{
    QTest::addColumn<int>("maxRetries");
    QTest::addColumn<QList<int>>("delays"); // the scheduled delays, one per retry
    QTest::newRow("no retries: one attempt") << 0 << QList<int>{};
    QTest::newRow("one retry: two attempts") << 1 << QList<int>{ 1000 };
    QTest::newRow("the defaults: five attempts") << 4 << QList<int>{ 1000, 2000, 4000, 8000 };
    QTest::newRow("eight retries reach the cap")
            << 8 << QList<int>{ 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000 };
}

void tst_Lifecycle::retriesRunOutAfterMaxRetriesPlusOneAttempts()
{
    QFETCH(int, maxRetries);
    QFETCH(QList<int>, delays);

    RetrySettings settings;
    settings.maxRetries = maxRetries;
    TransactionRecord t = fixture(S::Queued);
    QDateTime now = Now;
    QVERIFY(Lifecycle::release(t, now));

    // Twice: a dead letter that is retried gets a fresh set of retries.
    for (int round = 0; round < 2; ++round) {
        const qsizetype historyBefore = t.attempts.size();
        for (int attempt = 1; attempt <= maxRetries + 1; ++attempt) {
            const QString id = QStringLiteral("r%1a%2").arg(round).arg(attempt);
            QVERIFY(Lifecycle::startAttempt(t, id, now));
            QCOMPARE(t.currentAttempt, attempt);
            const FailureOutcome outcome =
                    Lifecycle::attemptFailed(t, networkError(), settings, now, 0.5);
            if (attempt <= maxRetries) {
                QCOMPARE(outcome, FailureOutcome::RetryScheduled);
                QCOMPARE(t.state, S::Pending);
                QCOMPARE(Lifecycle::dueAt(t), now.addMSecs(delays.at(attempt - 1)));
                now = Lifecycle::dueAt(t);
            } else {
                QCOMPARE(outcome, FailureOutcome::Failed);
                QCOMPARE(t.state, S::Failed);
                QVERIFY(!t.attempts.constLast().retryScheduledFor.isValid());
            }
        }
        QCOMPARE(t.attempts.size(), historyBefore + maxRetries + 1);
        QCOMPARE(t.currentAttempt, maxRetries + 1);
        now = now.addSecs(1);
        QVERIFY(Lifecycle::retry(t, now));
        QCOMPARE(t.currentAttempt, 0);
        QCOMPARE(t.state, S::Pending);
        QCOMPARE(Lifecycle::dueAt(t), QDateTime());
    }
}

void tst_Lifecycle::unreachable_data()
{
    QTest::addColumn<bool>("firstAttempt");
    QTest::newRow("the second attempt is withdrawn") << false;
    QTest::newRow("the first attempt is withdrawn") << true;
}

void tst_Lifecycle::unreachable()
{
    QFETCH(bool, firstAttempt);

    TransactionRecord t = fixture(S::Persisting);
    if (firstAttempt) {
        t.attempts = { openAttempt(QStringLiteral("a1")) };
        t.currentAttempt = 1;
        t.error = SyncError();
    }
    // Being offline is no failure: the attempt goes as if it never started, retries are not
    // used up, the error of an earlier attempt stays what it was.
    TransactionRecord expected = moved(t, S::Pending);
    expected.attempts.removeLast();
    expected.currentAttempt = firstAttempt ? 0 : 1;
    QVERIFY(Lifecycle::unreachable(t, Now));
    COMPARE_RECORDS(t, expected);
    QCOMPARE(Lifecycle::dueAt(t),
             firstAttempt ? QDateTime() : failedAttempt(QString()).retryScheduledFor);
}

void tst_Lifecycle::interrupted()
{
    TransactionRecord t = fixture(S::Persisting);
    TransactionRecord expected = moved(t, S::Pending);
    QVERIFY(Lifecycle::interrupted(t, Now));

    const AttemptRecord &a = t.attempts.constLast();
    QCOMPARE(a.error.code(), SyncError::Cancelled);
    QVERIFY(a.error.isRetryable());
    QVERIFY(!a.error.message().isEmpty());
    expected.attempts.last().completedAt = Now;
    expected.attempts.last().error = a.error;
    expected.currentAttempt = 2; // it counts: the mutations may have reached the server
    COMPARE_RECORDS(t, expected);
    QCOMPARE(Lifecycle::dueAt(t), QDateTime()); // it goes again at once
}

void tst_Lifecycle::dependencyFailed_data()
{
    QTest::addColumn<TransactionState>("from");
    QTest::addColumn<SyncError>("cause");

    SyncError forcedRetryable = validationError();
    forcedRetryable.setRetryable(true);
    SyncError network = networkError(); // retryable by its code
    network.setRetryAfterMs(5000);
    QTest::newRow("a queued transaction fails with a non-retryable cause")
            << S::Queued << validationError();
    QTest::newRow("a queued transaction fails with a cause marked retryable, and is not retryable")
            << S::Queued << forcedRetryable;
    QTest::newRow("a queued transaction fails with a network cause, and is not retryable")
            << S::Queued << network;
    QTest::newRow("a pending transaction fails with its cause") << S::Pending << validationError();
}

void tst_Lifecycle::dependencyFailed()
{
    QFETCH(TransactionState, from);
    QFETCH(SyncError, cause);
    cause.setTransactionId(QStringLiteral("t0")); // where the cause itself came from

    TransactionRecord t = fixture(from);
    TransactionRecord expected = moved(t, S::Failed);
    QVERIFY(Lifecycle::dependencyFailed(t, QStringLiteral("t7"), cause, Now));

    const SyncError &e = t.error;
    QCOMPARE(e.code(), cause.code());
    QCOMPARE(e.transactionId(), QStringLiteral("t7")); // the cause, not the transaction itself
    QCOMPARE(e.isRetryable(), false); // only retrying the cause can help
    QCOMPARE(e.httpStatus(), cause.httpStatus());
    QCOMPARE(e.detail(), cause.detail());
    QVERIFY2(e.message().contains(cause.message()), qPrintable(e.message()));
    QVERIFY(e.message() != cause.message()); // it says why this transaction failed
    expected.error = e;
    COMPARE_RECORDS(t, expected); // its attempts, retry count and queuedBehind stay
}

void tst_Lifecycle::dependencyFailedNeedsACause()
{
    for (S from : { S::Queued, S::Pending }) {
        const TransactionRecord before = fixture(from);
        TransactionRecord t = before;
        QVERIFY(!Lifecycle::dependencyFailed(t, QString(), validationError(), Now));
        COMPARE_RECORDS(t, before);
    }
}

void tst_Lifecycle::fail_data()
{
    QTest::addColumn<TransactionState>("from");
    QTest::newRow("a queued transaction is refused before sending") << S::Queued;
    QTest::newRow("a pending transaction is refused before sending") << S::Pending;
}

void tst_Lifecycle::fail()
{
    QFETCH(TransactionState, from);

    TransactionRecord t = fixture(from);
    TransactionRecord expected = moved(t, S::Failed);
    expected.error = queueFullError();
    QVERIFY(Lifecycle::fail(t, queueFullError(), Now));
    COMPARE_RECORDS(t, expected); // no attempt is made up for it
}

void tst_Lifecycle::retry()
{
    TransactionRecord t = fixture(S::Failed);
    TransactionRecord expected = moved(t, S::Pending);
    expected.currentAttempt = 0; // a fresh set of retries
    expected.queuedBehind.clear();
    expected.error = SyncError();
    QVERIFY(Lifecycle::retry(t, Now));
    COMPARE_RECORDS(t, expected); // the attempts stay as history
    QCOMPARE(Lifecycle::dueAt(t), QDateTime());
}

void tst_Lifecycle::settleUnsent_data()
{
    QTest::addColumn<TransactionState>("from");
    QTest::newRow("a queued transaction's change went with another") << S::Queued;
    QTest::newRow("a pending transaction's change went with another") << S::Pending;
}

void tst_Lifecycle::settleUnsent()
{
    QFETCH(TransactionState, from);

    TransactionRecord t = fixture(from);
    TransactionRecord expected = moved(t, S::Completed);
    expected.queuedBehind.clear();
    expected.error = SyncError(); // a completed transaction shows no error
    QVERIFY(Lifecycle::settleUnsent(t, Now));
    COMPARE_RECORDS(t, expected);
}

void tst_Lifecycle::adoptServer()
{
    TransactionRecord t = fixture(S::Persisting);
    TransactionRecord expected = moved(t, S::Completed);
    expected.error = SyncError(); // the policy dropped the change: no failure to show
    expected.attempts.last().completedAt = Now;
    expected.attempts.last().error = conflictError(); // the attempt says what it met
    expected.conflictOutcome = ConflictOutcome::AdoptServer;
    QVERIFY(Lifecycle::adoptServer(t, conflictError(), Now));
    COMPARE_RECORDS(t, expected);
}

void tst_Lifecycle::rebase_data()
{
    QTest::addColumn<int>("attempt");
    QTest::addColumn<int>("maxRetries");
    QTest::addColumn<FailureOutcome>("outcome");
    QTest::newRow("first attempt: sent again at once") << 1 << 4 << FailureOutcome::RetryScheduled;
    QTest::newRow("the last retry: sent again") << 2 << 2 << FailureOutcome::RetryScheduled;
    QTest::newRow("kept conflicting: retries used up") << 3 << 2 << FailureOutcome::Failed;
}

void tst_Lifecycle::rebase()
{
    QFETCH(int, attempt);
    QFETCH(int, maxRetries);
    QFETCH(FailureOutcome, outcome);

    TransactionRecord t = fixture(S::Persisting);
    t.currentAttempt = attempt;
    RetrySettings settings;
    settings.maxRetries = maxRetries;
    const bool again = outcome == FailureOutcome::RetryScheduled;
    TransactionRecord expected = moved(t, again ? S::Pending : S::Failed);
    expected.error = conflictError();
    expected.attempts.last().completedAt = Now;
    expected.attempts.last().error = conflictError();
    if (again)
        expected.attempts.last().retryScheduledFor = Now; // no back-off: the answer is known
    expected.conflictOutcome = ConflictOutcome::RebaseAndRetry;
    QCOMPARE(Lifecycle::rebase(t, conflictError(), settings, Now), outcome);
    COMPARE_RECORDS(t, expected);
    QCOMPARE(Lifecycle::dueAt(t), again ? Now : QDateTime());
}

void tst_Lifecycle::holdWaitsForTheApp()
{
    TransactionRecord t = fixture(S::Persisting);
    TransactionRecord expected = moved(t, S::Pending);
    expected.error = conflictError();
    expected.attempts.last().completedAt = Now;
    expected.attempts.last().error = conflictError();
    expected.conflictOutcome = ConflictOutcome::ManualRequired;
    QVERIFY(!awaitsResolution(t));
    QVERIFY(Lifecycle::hold(t, conflictError(), Now));
    COMPARE_RECORDS(t, expected);
    QVERIFY(awaitsResolution(t));
}

void tst_Lifecycle::resolve_data()
{
    QTest::addColumn<ConflictOutcome>("outcome");
    QTest::addColumn<bool>("accepted");
    QTest::newRow("with the server's state") << ConflictOutcome::AdoptServer << true;
    QTest::newRow("with a change sent again") << ConflictOutcome::RebaseAndRetry << true;
    QTest::newRow("not a resolution: manual") << ConflictOutcome::ManualRequired << false;
    QTest::newRow("not a resolution: skipped") << ConflictOutcome::Skipped << false;
    QTest::newRow("not a resolution: none") << ConflictOutcome::None << false;
}

void tst_Lifecycle::resolve()
{
    QFETCH(ConflictOutcome, outcome);
    QFETCH(bool, accepted);
    TransactionRecord t = fixture(S::Persisting);
    QVERIFY(Lifecycle::hold(t, conflictError(), Before));
    const TransactionRecord held = t;
    QCOMPARE(Lifecycle::resolve(t, outcome, Now), accepted);
    if (!accepted) {
        COMPARE_RECORDS(t, held);
        return;
    }
    const bool done = outcome == ConflictOutcome::AdoptServer;
    TransactionRecord expected = moved(held, done ? S::Completed : S::Pending);
    expected.error = SyncError();
    expected.conflictOutcome = outcome;
    if (!done)
        expected.currentAttempt = 0; // a fresh round of retries
    COMPARE_RECORDS(t, expected);
    QCOMPARE(Lifecycle::dueAt(t), QDateTime()); // due now
    QVERIFY(!awaitsResolution(t));
    QVERIFY(!Lifecycle::resolve(t, outcome, Now)); // once
}

void tst_Lifecycle::dueAt_data()
{
    QTest::addColumn<TransactionRecord>("record");
    QTest::addColumn<QDateTime>("expected");

    const QDateTime later = Now.addSecs(30);
    auto scheduled = [&](TransactionRecord t) {
        t.attempts.last().retryScheduledFor = later;
        return t;
    };

    TransactionRecord fresh = fixture(S::Queued);
    fresh.queuedBehind.clear();
    fresh.state = S::Pending;
    QTest::newRow("a never attempted transaction is due now") << fresh << QDateTime();
    QTest::newRow("after a failed attempt, the retry is due when scheduled")
            << scheduled(fixture(S::Pending)) << later;
    QTest::newRow("a past schedule is returned as it is")
            << fixture(S::Pending) << failedAttempt(QString()).retryScheduledFor;

    TransactionRecord interrupted = fixture(S::Persisting);
    QVERIFY(Lifecycle::interrupted(interrupted, Before));
    QTest::newRow("after an interrupted attempt, it is due now") << interrupted << QDateTime();

    TransactionRecord queued = scheduled(fixture(S::Pending));
    QVERIFY(Lifecycle::queue(queued, QStringLiteral("t0"), Before));
    QTest::newRow("a queued transaction is not due, whatever its schedule")
            << queued << QDateTime();
    QTest::newRow("a persisting transaction is not due") << fixture(S::Persisting) << QDateTime();
    QTest::newRow("an awaiting transaction is not due")
            << fixture(S::PersistedAwaitingSync) << QDateTime();
    QTest::newRow("a completed transaction is not due") << fixture(S::Completed) << QDateTime();
    QTest::newRow("a failed transaction is not due") << scheduled(fixture(S::Failed))
                                                      << QDateTime();

    // A retry scheduled for later, then queued behind t0, which fails for good: the dead letter
    // goes at once when retried, not when the old schedule says.
    TransactionRecord deadLetter = scheduled(fixture(S::Pending));
    QVERIFY(Lifecycle::queue(deadLetter, QStringLiteral("t0"), Before));
    QVERIFY(Lifecycle::dependencyFailed(deadLetter, QStringLiteral("t0"), validationError(),
                                        Before));
    QVERIFY(Lifecycle::retry(deadLetter, Before));
    QTest::newRow("a retried dead letter is due now, not at its old schedule")
            << deadLetter << QDateTime();
    TransactionRecord refused = scheduled(fixture(S::Pending));
    QVERIFY(Lifecycle::fail(refused, queueFullError(), Before));
    QVERIFY(Lifecycle::retry(refused, Before));
    QTest::newRow("a retried refused transaction is due now, not at its old schedule")
            << refused << QDateTime();
    TransactionRecord withdrawn = refused;
    QVERIFY(Lifecycle::startAttempt(withdrawn, QStringLiteral("a9"), Before));
    QVERIFY(Lifecycle::unreachable(withdrawn, Before));
    QTest::newRow("a retried one whose new attempt was withdrawn is due now")
            << withdrawn << QDateTime();
    TransactionRecord requeued = scheduled(fixture(S::Pending));
    QVERIFY(Lifecycle::queue(requeued, QStringLiteral("t0"), Before));
    QVERIFY(Lifecycle::release(requeued, Before));
    QTest::newRow("a released retry keeps its schedule") << requeued << later;
}

void tst_Lifecycle::dueAt()
{
    QFETCH(TransactionRecord, record);
    QFETCH(QDateTime, expected);

    QCOMPARE(Lifecycle::dueAt(record), expected);
}

void tst_Lifecycle::randomEventSequences_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("two thousand random histories from seed 1") << 1u;
    QTest::newRow("two thousand random histories from seed 2") << 2u;
    QTest::newRow("two thousand random histories from seed 3") << 3u;
    QTest::newRow("two thousand random histories from seed 20240101") << 20240101u;
    const QByteArray extra = qgetenv("SYNQ_TEST_SEED");
    if (!extra.isEmpty())
        QTest::newRow("two thousand random histories from SYNQ_TEST_SEED") << extra.toUInt();
}

// QVERIFY2 that builds its (long) message only when it fails.
#define CHECK(condition, message)                                                                  \
    do {                                                                                           \
        if (!(condition))                                                                          \
            QVERIFY2(condition, message);                                                          \
    } while (false)

void tst_Lifecycle::randomEventSequences()
{
    QFETCH(quint32, seed);
    qInfo("seed %u", seed);

    QRandomGenerator random(seed);
    const int eventCount = int(Event::SettleUnsent) + 1;
    QList<int> acceptedPerEvent(eventCount, 0);
    int completed = 0, failed = 0, exhausted = 0;

    for (int run = 0; run < 2000; ++run) {
        TransactionRecord t = fixture(S::Queued);
        t.queuedBehind.clear();
        t.state = S::Pending;
        t.mutations.resize(random.bounded(0, 3));
        RetrySettings settings;
        settings.maxRetries = random.bounded(0, 4);
        QDateTime now = Before;
        qsizetype roundStart = 0; // attempts before the last retry(): not counted any more
        QStringList history;

        for (int step = 0; step < 40; ++step) {
            now = now.addMSecs(random.bounded(1, 5000));
            const Event event = Event(random.bounded(eventCount));
            const TransactionRecord before = t;
            bool accepted = false;
            QString args;
            switch (event) {
            case Event::Queue: {
                const QString behind = QStringList{ QStringLiteral("t0"), QStringLiteral("t2"),
                                                    QString(), QStringLiteral("t1") }
                                               .at(random.bounded(4));
                args = behind;
                accepted = Lifecycle::queue(t, behind, now);
                break;
            }
            case Event::StartAttempt: {
                const QString id = random.bounded(10) == 0 ? QString()
                                                           : QStringLiteral("a%1").arg(step);
                args = id;
                accepted = Lifecycle::startAttempt(t, id, now);
                break;
            }
            case Event::FailRetryable:
            case Event::FailFinal: {
                SyncError e = event == Event::FailRetryable ? networkError() : validationError();
                if (random.bounded(3) == 0)
                    e.setRetryAfterMs(random.bounded(0, 100000));
                const double r = random.generateDouble();
                const FailureOutcome outcome = Lifecycle::attemptFailed(t, e, settings, now, r);
                accepted = outcome != FailureOutcome::Illegal;
                if (outcome == FailureOutcome::Failed && e.isRetryable())
                    ++exhausted;
                if (outcome == FailureOutcome::RetryScheduled) {
                    const int delay = qMax(settings.delayMs(before.currentAttempt, r),
                                           e.retryAfterMs());
                    QCOMPARE(Lifecycle::dueAt(t), now.addMSecs(delay));
                }
                break;
            }
            default:
                accepted = apply(event, t, now);
                break;
            }
            history.append(QStringLiteral("%1(%2)%3 -> %4")
                                   .arg(QLatin1String(nameOf(event)), args,
                                        accepted ? QString() : QStringLiteral(" refused"),
                                        nameOf(t.state)));
            auto where = [&] {
                return QStringLiteral("seed %1 run %2 step %3: %4")
                        .arg(seed)
                        .arg(run)
                        .arg(step)
                        .arg(history.mid(qMax(0, int(history.size()) - 12))
                                     .join(QStringLiteral(", ")));
            };

            if (before.state == S::Completed)
                CHECK(!accepted, qPrintable(where() + QStringLiteral(": Completed is terminal")));
            if (!accepted) {
                const QString diff = recordDiff(t, before);
                CHECK(diff.isEmpty(),
                      qPrintable(where() + QStringLiteral(": refused, but ") + diff));
                continue;
            }
            ++acceptedPerEvent[int(event)];
            if (event == Event::Retry)
                roundStart = before.attempts.size();
            if (t.state == before.state) {
                CHECK(event == Event::Queue && t.state == S::Queued,
                      qPrintable(where() + QStringLiteral(": only a re-queue stays put")));
            } else {
                CHECK(Lifecycle::canTransition(before.state, t.state),
                      qPrintable(where() + QStringLiteral(": canTransition refuses it")));
            }
            CHECK(t.updatedAt == now, qPrintable(where()));
            for (const MutationRecord &m : t.mutations)
                CHECK(m.state == mutationStateFor(t.state) && m.updatedAt == now,
                      qPrintable(where()));

            // currentAttempt counts the attempts since the last retry (withdrawn ones are gone).
            CHECK(t.currentAttempt == t.attempts.size() - roundStart,
                  qPrintable(where()
                             + QStringLiteral(": currentAttempt %1, %2 attempts, %3 before the "
                                              "last retry")
                                       .arg(t.currentAttempt)
                                       .arg(t.attempts.size())
                                       .arg(roundStart)));
            // Only the last attempt can be open, and only while Persisting.
            for (qsizetype i = 0; i + 1 < t.attempts.size(); ++i)
                CHECK(t.attempts.at(i).completedAt.isValid(), qPrintable(where()));
            const bool open =
                    !t.attempts.isEmpty() && !t.attempts.constLast().completedAt.isValid();
            CHECK(open == (t.state == S::Persisting), qPrintable(where()));
            // What waits says for what; nothing else does.
            if (t.state == S::Queued)
                CHECK(!t.queuedBehind.isEmpty() && t.queuedBehind != t.id, qPrintable(where()));
            else if (t.state != S::Failed)
                CHECK(t.queuedBehind.isEmpty(), qPrintable(where()));
            // A failure says why; a success does not show an old error.
            if (t.state == S::Failed)
                CHECK(t.error.isError(), qPrintable(where()));
            if (t.state == S::Completed || t.state == S::PersistedAwaitingSync)
                CHECK(!t.error.isError(),
                      qPrintable(where() + QStringLiteral(": ") + describe(t.error)));
            // A schedule belongs to the current round of retries.
            if (Lifecycle::dueAt(t).isValid())
                CHECK(t.state == S::Pending && t.currentAttempt > 0, qPrintable(where()));
            if (t.state == S::Completed)
                ++completed;
            if (t.state == S::Failed && before.state != S::Failed)
                ++failed;
        }
    }
    // The histories reached every event and both ends, so the checks had something to check.
    for (int e = 0; e < eventCount; ++e)
        CHECK(acceptedPerEvent.at(e) > 20,
              qPrintable(QStringLiteral("%1 accepted %2 times")
                                 .arg(QLatin1String(nameOf(Event(e))))
                                 .arg(acceptedPerEvent.at(e))));
    QVERIFY(completed > 100);
    QVERIFY(failed > 100);
    QVERIFY(exhausted > 10);
}

QTEST_GUILESS_MAIN(tst_Lifecycle)
#include "tst_lifecycle.moc"
