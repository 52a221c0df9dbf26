// SPDX-License-Identifier: BSD-3-Clause
// Transactions end to end: The state machine seen on Transaction handles, explicit transactions, and the monitoring signals.
// (transactionsfixture.h: the engine, models and backend every test starts with.)
#include "transactionsfixture.h"

using namespace TransactionTests;

class tst_TransactionLifecycle : public TransactionsFixture
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data() { addStrategies(); }
    void init() { setUp(); }
    void cleanup() { tearDown(); }

    // 1. The state machine on Transaction
    void aRetriedTransactionMovesThroughEveryStateOnce();
    void aRefusedTransactionFailsOnceWithItsAttempt();

    // 2. Explicit transactions
    void explicitTransactionCommitsAcrossCollectionsAsOneUnit();
    void explicitTransactionRollbackStoresNothing();
    void explicitCommitThatCannotBeMadeStoresNothing();
    void explicitTransactionRefusedByTheServerRollsBackEverywhere_data();
    void explicitTransactionRefusedByTheServerRollsBackEverywhere();

    // 9. Monitoring
    void monitoringSignalsFollowEveryStep();
};

// ---------------------------------------------------------------------------------------------
// 1. The state machine on Transaction

void tst_TransactionLifecycle::aRetriedTransactionMovesThroughEveryStateOnce()
{
    m_backend->failNextPersist(retryable("busy"));
    const QDateTime before = QDateTime::currentDateTimeUtc();
    QPointer<Transaction> t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);

    // Made: Pending, nothing tried yet.
    QCOMPARE(t->state(), Transaction::Pending);
    QCOMPARE(t->stateName(), s("Pending"));
    QVERIFY(!t->id().isEmpty());
    QCOMPARE(t->key(), s("a"));
    QCOMPARE(t->strategy(), ordered() ? Transaction::Ordered : Transaction::Parallel);
    QVERIFY(t->createdAt().isValid());
    QVERIFY(t->createdAt() >= before);
    QCOMPARE(t->updatedAt(), t->createdAt());
    QVERIFY(t->attempts().isEmpty());
    QCOMPARE(t->currentAttempt(), 0);
    QVERIFY(!t->nextRetryAt().isValid());
    QVERIFY(t->queuedBehind().isEmpty());
    QVERIFY(!t->error().isError());
    QCOMPARE(t->mutationCount(), 1);
    QCOMPARE(t->mutations().constFirst().toMap().value(s("state")).toString(), s("created"));

    StateLog states = recordStates(t);
    QList<QDateTime> retryAtWhilePending;
    connect(t, &Transaction::stateChanged, this, [&] {
        if (t->state() == Transaction::Pending)
            retryAtWhilePending.append(t->nextRetryAt());
    });
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy failed(t, &Transaction::failed);
    QSignalSpy updated(t, &Transaction::updatedAtChanged);
    QSignalSpy attemptsChanged(t, &Transaction::attemptsChanged);

    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(*states, (QList<Transaction::State> { Transaction::Persisting, Transaction::Pending,
                                                  Transaction::Persisting,
                                                  Transaction::Completed }));
    QCOMPARE(completed.size(), 1);
    QCOMPARE(failed.size(), 0);
    QVERIFY(attemptsChanged.size() >= 2);
    QVERIFY(!updated.isEmpty()); // (moves within one millisecond keep updatedAt)

    // Two attempts, each with its own id, start and end; the first failed and scheduled the
    // second, which started no earlier than scheduled.
    QCOMPARE(t->attempts().size(), 2);
    QCOMPARE(t->currentAttempt(), 2);
    const QVariantMap a0 = attempt(t, 0);
    const QVariantMap a1 = attempt(t, 1);
    QVERIFY(!a0.value(s("id")).toString().isEmpty());
    QVERIFY(!a1.value(s("id")).toString().isEmpty());
    QVERIFY(a0.value(s("id")) != a1.value(s("id")));
    QVERIFY(a0.value(s("startedAt")).toDateTime() >= t->createdAt());
    QVERIFY(a0.value(s("completedAt")).toDateTime() >= a0.value(s("startedAt")).toDateTime());
    QCOMPARE(attemptError(t, 0).code(), SyncError::Network);
    QCOMPARE(attemptError(t, 0).message(), s("busy"));
    const QDateTime scheduled = a0.value(s("retryScheduledFor")).toDateTime();
    QVERIFY(scheduled.isValid());
    QVERIFY(scheduled > a0.value(s("completedAt")).toDateTime());
    QVERIFY(a1.value(s("startedAt")).toDateTime() >= scheduled);
    QVERIFY(a1.value(s("completedAt")).toDateTime() >= a1.value(s("startedAt")).toDateTime());
    QVERIFY(!attemptError(t, 1).isError());
    QVERIFY(!a1.value(s("retryScheduledFor")).toDateTime().isValid());

    // nextRetryAt named the scheduled retry while it waited, and nothing once done.
    QCOMPARE(retryAtWhilePending, QList<QDateTime> { scheduled });
    QVERIFY(!t->nextRetryAt().isValid());
    QVERIFY(!t->error().isError());
    QCOMPARE(t->updatedAt(), a1.value(s("completedAt")).toDateTime());
    QVERIFY(t->updatedAt() > t->createdAt());
    QCOMPARE(t->mutations().constFirst().toMap().value(s("state")).toString(), s("synced"));

    // Completed is final: later runs change nothing and signal nothing.
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(completed.size(), 1);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(states->size(), 4);
    QCOMPARE(timesPushed(mutationId(t)), 2);
}

void tst_TransactionLifecycle::aRefusedTransactionFailsOnceWithItsAttempt()
{
    m_backend->failNextPersist(refused("title too long"));
    QPointer<Transaction> t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    StateLog states = recordStates(t);
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy failed(t, &Transaction::failed);

    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, Timeout);
    QCOMPARE(*states, (QList<Transaction::State> { Transaction::Persisting, Transaction::Failed }));
    QCOMPARE(t->stateName(), s("Failed"));
    const SyncError error = failed.constFirst().constFirst().value<SyncError>();
    QCOMPARE(error.code(), SyncError::Validation);
    QCOMPARE(error.message(), s("title too long"));
    QVERIFY(!error.isRetryable());
    QVERIFY(error.transactionId().isEmpty()); // its own failure, not a dependency's
    QCOMPARE(t->error(), error);
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(t->currentAttempt(), 1);
    QVERIFY(attempt(t, 0).value(s("completedAt")).toDateTime().isValid());
    QCOMPARE(attemptError(t, 0).code(), SyncError::Validation);
    QVERIFY(!attempt(t, 0).value(s("retryScheduledFor")).toDateTime().isValid());
    QVERIFY(!t->nextRetryAt().isValid());
    QCOMPARE(t->updatedAt(), attempt(t, 0).value(s("completedAt")).toDateTime());
    QCOMPARE(completed.size(), 0);

    // Rolled back, kept as a dead letter.
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("a")), -1, Timeout);
    QCOMPARE(m_engine->deadLetters(), QList<Transaction *> { t.data() });
    QCOMPARE(m_engine->status()->failedCount(), 1);
    QCOMPARE(m_engine->status()->pendingCount(), 0);

    // Failed is final until retried: later runs neither send it nor signal again.
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::Failed);
    QCOMPARE(failed.size(), 1);
    QCOMPARE(completed.size(), 0);
    QCOMPARE(states->size(), 2);
    QCOMPARE(m_backend->pushedMutations().size(), 1);
}

// ---------------------------------------------------------------------------------------------
// 2. Explicit transactions

void tst_TransactionLifecycle::explicitTransactionCommitsAcrossCollectionsAsOneUnit()
{
    DO(seed(todo("b", "B")));
    DO(seed(todo("c", "C")));
    DO(runOnce());
    QSignalSpy added(m_engine.get(), &SyncEngine::transactionAdded);
    QSignalSpy todosInserted(m_todos.get(), &QAbstractItemModel::rowsInserted);
    QSignalSpy todosRemoved(m_todos.get(), &QAbstractItemModel::rowsRemoved);
    QSignalSpy projectsInserted(m_projects.get(), &QAbstractItemModel::rowsInserted);
    QSignalSpy pushes(m_backend.get(), &TestBackend::pushed);

    Transaction *t = m_engine->begin();
    QVERIFY(t);
    QVERIFY(t->isOpen());
    QCOMPARE(t->insert(s("projects"), project("p1", "Home")), s("p1"));
    const QString paint = t->insert(s("todos"), QVariantMap { { s("title"), s("Paint") } });
    QVERIFY(!paint.isEmpty()); // a key was made for it
    QVERIFY(t->update(s("todos"), s("b"), changes("title", s("B2"))));
    QVERIFY(t->remove(s("todos"), s("c")));

    // Staged only: nothing shows, nothing is stored or sent.
    QCOMPARE(m_projects->rowCount(), 0);
    QCOMPARE(m_todos->rowCount(), 2);
    QCOMPARE(item("b").value(s("title")).toString(), s("B"));
    QVERIFY(m_todos->indexOfKey(s("c")) >= 0);
    QCOMPARE(added.size(), 0);
    QVERIFY(!m_engine->transactionHistory().contains(t));
    QCOMPARE(m_history->indexOf(t->id()), -1);
    DO(runOnce());
    QCOMPARE(pushes.size(), 0);
    QVERIFY(m_backend->pushedMutations().isEmpty());

    // Commit: everything shows at once, before the call returns.
    QVERIFY(t->commit());
    QVERIFY(!t->isOpen());
    QCOMPARE(m_projects->rowCount(), 1);
    QCOMPARE(m_projects->getByKey(s("p1")).value(s("name")).toString(), s("Home"));
    QCOMPARE(m_todos->getByKey(paint).value(s("title")).toString(), s("Paint"));
    QCOMPARE(item("b").value(s("title")).toString(), s("B2"));
    QCOMPARE(m_todos->indexOfKey(s("c")), -1);
    QCOMPARE(projectsInserted.size(), 1);
    QCOMPARE(todosInserted.size(), 1);
    QCOMPARE(todosRemoved.size(), 1);
    QCOMPARE(added.size(), 1);
    QCOMPARE(added.constFirst().constFirst().value<Transaction *>(), t);
    QVERIFY(m_engine->transactionHistory().contains(t));
    QCOMPARE(t->mutationCount(), 4);
    QCOMPARE(t->collections(), (QStringList { s("projects"), s("todos") }));
    QCOMPARE(t->strategy(), ordered() ? Transaction::Ordered : Transaction::Parallel);
    QVERIFY(t->state() == Transaction::Pending);

    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    // One push unit: one request, every mutation under the transaction's id, in order.
    QCOMPARE(pushes.size(), 1);
    QCOMPARE(pushes.constFirst().constFirst().toInt(), 4);
    const QList<PushMutation> pushed = m_backend->pushedMutations();
    QCOMPARE(pushed.size(), 4);
    QStringList ids;
    for (const PushMutation &m : pushed) {
        QCOMPARE(m.tx, t->id());
        ids.append(m.id);
    }
    QCOMPARE(ids, mutationIds(t));
    QCOMPARE(pushed.at(0).collection, s("projects"));
    QCOMPARE(pushed.at(3).op, MutationType::Remove);

    // The server holds all of it.
    QVERIFY(m_backend->contains(s("projects"), s("p1")));
    QCOMPARE(m_backend->record(s("todos"), paint).value(s("title")).toString(), s("Paint"));
    QCOMPARE(m_backend->record(s("todos"), s("b")).value(s("title")).toString(), s("B2"));
    QVERIFY(!m_backend->contains(s("todos"), s("c")));
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->pendingCount(), 0, Timeout);
    QCOMPARE(m_projects->pendingCount(), 0);
    QCOMPARE(item("b").value(s("syncState")).toInt(), int(SyncCollection::Synced));
    QCOMPARE(m_projects->getByKey(s("p1")).value(s("syncState")).toInt(),
             int(SyncCollection::Synced));
}

void tst_TransactionLifecycle::explicitTransactionRollbackStoresNothing()
{
    DO(seed(todo("b", "B")));
    QSignalSpy added(m_engine.get(), &SyncEngine::transactionAdded);
    QPointer<Transaction> t = m_engine->begin();
    QVERIFY(t);
    const QString id = t->id();
    QSignalSpy failed(t, &Transaction::failed);
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy openChanged(t, &Transaction::openChanged);
    QCOMPARE(t->insert(s("projects"), project("p1", "Home")), s("p1"));
    QVERIFY(t->update(s("todos"), s("b"), changes("title", s("B2"))));

    t->rollback();
    QCOMPARE(t->state(), Transaction::Failed);
    QVERIFY(!t->isOpen());
    QCOMPARE(openChanged.size(), 1);
    QCOMPARE(failed.size(), 1);
    QCOMPARE(failed.constFirst().constFirst().value<SyncError>().code(), SyncError::Cancelled);
    QCOMPARE(t->error().code(), SyncError::Cancelled);
    QCOMPARE(completed.size(), 0);
    QCOMPARE(m_projects->rowCount(), 0);
    QCOMPARE(item("b").value(s("title")).toString(), s("B"));
    QCOMPARE(added.size(), 0);
    QVERIFY(!m_engine->transactionHistory().contains(t.data()));
    QVERIFY(!m_engine->deadLetters().contains(t.data())); // nothing to retry
    QCOMPARE(m_engine->status()->failedCount(), 0);

    // Closed for good: no more staging, no commit, a second rollback does nothing.
    QVERIFY(t->insert(s("projects"), QVariantMap { { s("id"), s("p2") } }).isEmpty());
    QVERIFY(!t->commit());
    t->rollback();
    QCOMPARE(failed.size(), 1);

    DO(runOnce());
    QVERIFY(m_backend->pushedMutations().isEmpty());
    QVERIFY(m_backend->records(s("projects")).isEmpty());

    DO(reopen());
    QCOMPARE(m_projects->rowCount(), 0);
    QCOMPARE(item("b").value(s("title")).toString(), s("B"));
    QVERIFY(m_engine->transactionHistory().isEmpty());
    QVERIFY(!m_engine->transaction(id));
}

void tst_TransactionLifecycle::explicitCommitThatCannotBeMadeStoresNothing()
{
    QSignalSpy engineErrors(m_engine.get(), &SyncEngine::errorOccurred);
    QPointer<Transaction> t = m_engine->begin();
    QVERIFY(t);
    const QString id = t->id();
    QSignalSpy failed(t, &Transaction::failed);
    QCOMPARE(t->insert(s("projects"), project("p1", "Home")), s("p1"));
    QCOMPARE(t->insert(s("todos"), todo("x", "staged")), s("x"));
    // Staging an insert of a key the transaction already holds is refused; it stays open.
    QVERIFY(t->insert(s("todos"), todo("x", "twice")).isEmpty());
    QVERIFY(t->isOpen());
    QCOMPARE(failed.size(), 0);

    // Meanwhile the same key is inserted directly: the commit cannot be made any more.
    QPointer<Transaction> direct = m_todos->insert(todo("x", "direct"));
    QVERIFY(direct);
    engineErrors.clear();
    QVERIFY(!t->commit());
    QCOMPARE(t->state(), Transaction::Failed);
    QVERIFY(!t->isOpen());
    QCOMPARE(failed.size(), 1);
    QCOMPARE(t->error().code(), SyncError::Validation);
    QVERIFY(!engineErrors.isEmpty());
    // Nothing of it is stored: the project is not there, the direct insert is untouched.
    QCOMPARE(m_projects->rowCount(), 0);
    QCOMPARE(item("x").value(s("title")).toString(), s("direct"));
    QCOMPARE(m_engine->transactionHistory(), QList<Transaction *> { direct.data() });
    QVERIFY(!m_engine->deadLetters().contains(t.data()));

    // A commit with nothing staged is refused too.
    QPointer<Transaction> empty = m_engine->begin();
    QSignalSpy emptyFailed(empty, &Transaction::failed);
    QVERIFY(!empty->commit());
    QCOMPARE(empty->state(), Transaction::Failed);
    QCOMPARE(emptyFailed.size(), 1);

    QTRY_COMPARE_WITH_TIMEOUT(direct->state(), Transaction::Completed, Timeout);
    QCOMPARE(m_backend->pushedMutations().size(), 1);
    QCOMPARE(m_backend->pushedMutations().constFirst().tx, direct->id());
    QVERIFY(m_backend->records(s("projects")).isEmpty());
    QCOMPARE(m_backend->record(s("todos"), s("x")).value(s("title")).toString(), s("direct"));

    DO(reopen());
    QCOMPARE(m_projects->rowCount(), 0);
    QVERIFY(!m_engine->transaction(id));
    QCOMPARE(m_engine->transactionHistory().size(), 0); // the completed one is not reloaded
}

void tst_TransactionLifecycle::explicitTransactionRefusedByTheServerRollsBackEverywhere_data()
{
    QTest::addColumn<bool>("conflict");
    QTest::newRow("the server refuses the transaction") << false;
    QTest::newRow("one mutation conflicts, so none is applied") << true;
}

void tst_TransactionLifecycle::explicitTransactionRefusedByTheServerRollsBackEverywhere()
{
    QFETCH(bool, conflict);
    DO(seed(todo("b", "B")));
    if (conflict)
        m_backend->injectConflict(s("todos"), s("b"), todo("b", "Server B"));
    else
        m_backend->failNextPersist(refused("no"));

    Transaction *t = m_engine->begin();
    QCOMPARE(t->insert(s("projects"), project("p1", "Home")), s("p1"));
    QVERIFY(t->update(s("todos"), s("b"), changes("title", s("B2"))));
    QCOMPARE(t->insert(s("todos"), todo("a", "A")), s("a"));
    QSignalSpy failed(t, &Transaction::failed);
    QSignalSpy completed(t, &Transaction::completed);
    QVERIFY(t->commit());
    QCOMPARE(m_projects->rowCount(), 1);
    QCOMPARE(item("b").value(s("title")).toString(), s("B2"));

    // Refused, it fails (a dead letter). In conflict, the server wins (the default policy)
    // for the whole transaction: it is over, with its changes dropped.
    QTRY_COMPARE_WITH_TIMEOUT(failed.size() + completed.size(), 1, Timeout);
    QCOMPARE(t->state(), conflict ? Transaction::Completed : Transaction::Failed);
    QCOMPARE(t->conflictOutcome(), conflict ? Transaction::AdoptServer : Transaction::NoConflict);
    QCOMPARE(t->error().code(), conflict ? SyncError::None : SyncError::Validation);
    QCOMPARE(t->record().attempts.constLast().error.code(),
             conflict ? SyncError::Conflict : SyncError::Validation);
    QCOMPARE(t->attempts().size(), 1);

    // The server applied none of it.
    const QList<PushMutation> pushed = m_backend->pushedMutations();
    QCOMPARE(pushed.size(), 3);
    for (const PushMutation &m : pushed)
        QCOMPARE(m.tx, t->id());
    QVERIFY(m_backend->records(s("projects")).isEmpty());
    QVERIFY(!m_backend->contains(s("todos"), s("a")));
    const QString serverB = conflict ? s("Server B") : s("B");
    QCOMPARE(m_backend->record(s("todos"), s("b")).value(s("title")).toString(), serverB);

    // Both collections roll back: the rows show the server's state.
    QTRY_COMPARE_WITH_TIMEOUT(m_projects->rowCount(), 0, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("a")), -1, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(item("b").value(s("title")).toString(), serverB, Timeout);
    QCOMPARE(m_todos->pendingCount(), 0);
    QCOMPARE(m_projects->pendingCount(), 0);
    QCOMPARE(m_engine->deadLetters(),
             conflict ? QList<Transaction *>() : QList<Transaction *> { t });
}

// ---------------------------------------------------------------------------------------------
// 9. Monitoring

void tst_TransactionLifecycle::monitoringSignalsFollowEveryStep()
{
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    QSignalSpy added(m_engine.get(), &SyncEngine::transactionAdded);
    QSignalSpy changed(m_engine.get(), &SyncEngine::transactionChanged);
    QSignalSpy stateChanged(m_engine.get(), &SyncEngine::transactionStateChanged);
    QList<QVariantMap> events;
    connect(m_engine.get(), &SyncEngine::transactionEvent, this,
            [&](const QVariantMap &e) { events.append(e); });
    m_backend->failNextPersist(retryable("busy"));

    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QCOMPARE(added.size(), 1);
    QCOMPARE(added.constFirst().constFirst().value<Transaction *>(), t);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);

    QList<Transaction::State> states;
    for (const QList<QVariant> &args : std::as_const(stateChanged)) {
        QCOMPARE(args.at(0).toString(), t->id());
        states.append(args.at(1).value<Transaction::State>());
    }
    QCOMPARE(states, (QList<Transaction::State> { Transaction::Persisting, Transaction::Pending,
                                                 Transaction::Persisting,
                                                 Transaction::Completed }));
    QVERIFY(changed.size() >= states.size());
    for (const QList<QVariant> &args : std::as_const(changed))
        QCOMPARE(args.at(0).value<Transaction *>(), t);

    QStringList types;
    for (const QVariantMap &e : std::as_const(events)) {
        types.append(e.value(s("type")).toString());
        QCOMPARE(e.value(s("transactionId")).toString(), t->id());
        QVERIFY(e.value(s("at")).toDateTime().isValid());
        QCOMPARE(e.value(s("stateName")).toString(),
                 QString::fromLatin1(QMetaEnum::fromType<Transaction::State>().valueToKey(
                         e.value(s("state")).toInt())));
    }
    QCOMPARE(types, (QStringList { s("created"), s("attemptStarted"), s("stateChanged"),
                                   s("retryScheduled"), s("stateChanged"), s("attemptStarted"),
                                   s("stateChanged"), s("stateChanged") }));
    QCOMPARE(events.at(0).value(s("state")).toInt(), int(Transaction::Pending));
    QCOMPARE(events.at(0).value(s("attempt")).toInt(), 0);
    QCOMPARE(events.at(1).value(s("attempt")).toInt(), 1);
    QCOMPARE(events.at(2).value(s("state")).toInt(), int(Transaction::Persisting));
    const QVariantMap retry = events.at(3);
    QCOMPARE(retry.value(s("state")).toInt(), int(Transaction::Pending));
    QCOMPARE(retry.value(s("attempt")).toInt(), 1);
    QCOMPARE(retry.value(s("error")).value<SyncError>().code(), SyncError::Network);
    QCOMPARE(retry.value(s("retryScheduledFor")).toDateTime(),
             attempt(t, 0).value(s("retryScheduledFor")).toDateTime());
    QCOMPARE(events.at(5).value(s("attempt")).toInt(), 2);
    QCOMPARE(events.at(7).value(s("state")).toInt(), int(Transaction::Completed));
    QCOMPARE(events.at(7).value(s("attempt")).toInt(), 2);
    QVERIFY(!events.at(7).contains(s("error")));
    QVERIFY(!events.at(7).contains(s("retryScheduledFor")));

    // A failure: stateChanged to Failed carries the error; a discard is the last event.
    events.clear();
    m_backend->failNextPersist(refused("no"));
    Transaction *u = m_todos->insert(todo("b", "Tea"));
    QVERIFY(u);
    const QString id = u->id();
    QTRY_COMPARE_WITH_TIMEOUT(u->state(), Transaction::Failed, Timeout);
    QCOMPARE(events.constLast().value(s("type")).toString(), s("stateChanged"));
    QCOMPARE(events.constLast().value(s("state")).toInt(), int(Transaction::Failed));
    QCOMPARE(events.constLast().value(s("error")).value<SyncError>().code(), SyncError::Validation);
    QVERIFY(m_engine->discard(id));
    QCOMPARE(events.constLast().value(s("type")).toString(), s("discarded"));
    QCOMPARE(events.constLast().value(s("transactionId")).toString(), id);
}

QTEST_GUILESS_MAIN(tst_TransactionLifecycle)
#include "tst_transactions_lifecycle.moc"
