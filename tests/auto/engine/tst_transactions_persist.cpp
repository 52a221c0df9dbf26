// SPDX-License-Identifier: BSD-3-Clause
// Transactions end to end: Custom persist handlers and await-sync.
// (transactionsfixture.h: the engine, models and backend every test starts with.)
#include "transactionsfixture.h"

using namespace TransactionTests;

class tst_TransactionPersist : public TransactionsFixture
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data() { addStrategies(); }
    void init() { setUp(); }
    void cleanup() { tearDown(); }

    // 7. Custom persist
    void customPersistIsAnsweredLater();
    void customPersistFailuresAreRetriedOrFinal();
    void customPersistAnsweredTwiceOrLateIsHarmless();
    void customPersistWorksWithoutATransport();

    // 8. Await-sync
    void awaitSyncThroughTheTransportCompletesInTheSameRun();
    void awaitSyncWithACustomPersistWaitsForMatchingFields();
};

// ---------------------------------------------------------------------------------------------
// 7. Custom persist

void tst_TransactionPersist::customPersistIsAnsweredLater()
{
    auto log = std::make_shared<PersistLog>(); // the test answers
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->insert(fullTodo("a", "Milk", false, ""));
    QVERIFY(t);
    StateLog states = recordStates(t);
    QSignalSpy completed(t, &Transaction::completed);
    QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 1, Timeout);
    const PersistLog::Call call = log->calls.constFirst();
    QCOMPARE(call.transaction.data(), t);
    QCOMPARE(call.attempt, 1);
    QCOMPARE(call.state, Transaction::Persisting);
    QCOMPARE(t->mutations().constFirst().toMap().value(s("changes")).toMap().value(s("title")),
             QVariant(s("Milk")));
    QCOMPARE(t->state(), Transaction::Persisting); // until answered

    call.done(SyncError());
    QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, Timeout);
    QCOMPARE(*states, (QList<Transaction::State> { Transaction::Persisting,
                                                  Transaction::Completed }));
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(log->calls.size(), 1);
    // The handler replaced the transport for this collection.
    QVERIFY(m_backend->pushedMutations().isEmpty());
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("isOptimistic")).toBool(), false, Timeout);
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
    QCOMPARE(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced));

    // The other collection still goes through the transport.
    Transaction *p = m_projects->insert(project("p1", "H"));
    QVERIFY(p);
    QTRY_COMPARE_WITH_TIMEOUT(p->state(), Transaction::Completed, Timeout);
    QVERIFY(m_backend->contains(s("projects"), s("p1")));
    QCOMPARE(log->calls.size(), 1);
}

void tst_TransactionPersist::customPersistFailuresAreRetriedOrFinal()
{
    auto log = std::make_shared<PersistLog>();
    log->answer = [](Transaction *t) {
        if (t->key() == s("a")) // fails once, then works
            return t->currentAttempt() == 1 ? retryable("try later") : SyncError();
        if (t->key() == s("b"))
            return refused("never");
        return SyncError(SyncError::Network, s("give up")).setRetryable(false);
    };
    m_todos->setPersistHandler(handlerFor(log));

    Transaction *a = m_todos->insert(todo("a", "Milk"));
    QVERIFY(a);
    QTRY_COMPARE_WITH_TIMEOUT(a->state(), Transaction::Completed, Timeout);
    QCOMPARE(log->callsFor(a->id()), 2);
    QCOMPARE(a->attempts().size(), 2);
    QCOMPARE(attemptError(a, 0).message(), s("try later"));
    QVERIFY(attempt(a, 0).value(s("retryScheduledFor")).toDateTime().isValid());
    QCOMPARE(log->calls.constLast().attempt, 2);

    Transaction *b = m_todos->insert(todo("b", "Tea"));
    Transaction *c = m_todos->insert(todo("c", "Jam"));
    QVERIFY(b && c);
    QTRY_COMPARE_WITH_TIMEOUT(b->state(), Transaction::Failed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(c->state(), Transaction::Failed, Timeout);
    QCOMPARE(log->callsFor(b->id()), 1);
    QCOMPARE(log->callsFor(c->id()), 1);
    QCOMPARE(b->error().code(), SyncError::Validation);
    QCOMPARE(c->error().message(), s("give up"));
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("b")), -1, Timeout);
    QCOMPARE(m_todos->indexOfKey(s("c")), -1);
    QVERIFY(m_todos->indexOfKey(s("a")) >= 0);
    QVERIFY(m_backend->pushedMutations().isEmpty());
}

void tst_TransactionPersist::customPersistAnsweredTwiceOrLateIsHarmless()
{
    auto log = std::make_shared<PersistLog>();
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    StateLog states = recordStates(t);
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy failed(t, &Transaction::failed);
    QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 1, Timeout);
    log->calls.constFirst().done(SyncError());
    log->calls.constFirst().done(refused("second answer"));
    QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, Timeout);
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(completed.size(), 1);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(*states, (QList<Transaction::State> { Transaction::Persisting,
                                                  Transaction::Completed }));
    QCOMPARE(log->calls.size(), 1);

    // An answer to an attempt that a restart cut short is ignored; the new attempt decides.
    Transaction *u = m_todos->insert(todo("b", "Tea"));
    QVERIFY(u);
    const QString id = u->id();
    QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 2, Timeout);
    const SyncEngine::PersistCallback stale = log->calls.constLast().done;
    m_engine->close();
    QVERIFY(m_engine->open());
    Transaction *r = m_engine->transaction(id);
    QVERIFY(r);
    QCOMPARE(r->state(), Transaction::Pending);
    QTRY_COMPARE_WITH_TIMEOUT(log->calls.size(), 3, Timeout);
    QCOMPARE(log->calls.constLast().id, id);
    QCOMPARE(log->calls.constLast().attempt, 2);
    QSignalSpy rFailed(r, &Transaction::failed);
    stale(refused("stale"));
    DO(runOnce()); // the stale answer has been delivered by now
    QCOMPARE(r->state(), Transaction::Persisting);
    QCOMPARE(rFailed.size(), 0);
    log->calls.constLast().done(SyncError());
    QTRY_COMPARE_WITH_TIMEOUT(r->state(), Transaction::Completed, Timeout);
    QCOMPARE(rFailed.size(), 0);
}

void tst_TransactionPersist::customPersistWorksWithoutATransport()
{
    DO(reopen(false));
    QVERIFY(!m_engine->transport());
    auto log = std::make_shared<PersistLog>();
    log->answer = [](Transaction *t) {
        return t->currentAttempt() == 1 ? retryable("try later") : SyncError();
    };
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(log->calls.size(), 2);
    QCOMPARE(t->attempts().size(), 2);
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), false);
    // A collection without a handler has nowhere to send its changes: they wait, unfailed.
    Transaction *p = m_projects->insert(QVariantMap { { s("id"), s("p1") } });
    QVERIFY(p);
    DO(runOnce());
    QCOMPARE(p->state(), Transaction::Pending);
    QVERIFY(p->attempts().isEmpty());
    QVERIFY(m_backend->pushedMutations().isEmpty());
    QCOMPARE(m_backend->pushRequestCount(), 0);
}

// ---------------------------------------------------------------------------------------------
// 8. Await-sync

void tst_TransactionPersist::awaitSyncThroughTheTransportCompletesInTheSameRun()
{
    m_todos->setAwaitSync(true);
    QVERIFY(m_todos->awaitSync());
    QVERIFY(m_engine->awaitSync(s("todos")));
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    int runs = 0;
    connect(m_engine.get(), &SyncEngine::syncStarted, this, [&] { ++runs; });
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QList<int> runAt;
    QList<bool> syncingAt;
    StateLog states = recordStates(t);
    connect(t, &Transaction::stateChanged, this, [&] {
        runAt.append(runs);
        syncingAt.append(m_engine->status()->isSyncing());
    });
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(*states, (QList<Transaction::State> { Transaction::Persisting,
                                                  Transaction::PersistedAwaitingSync,
                                                  Transaction::Completed }));
    // Persisted by the push, completed by the pull of the same run.
    QCOMPARE(runAt.at(1), runAt.at(2));
    QCOMPARE(syncingAt, (QList<bool> { true, true, true }));
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(item("a").value(s("version")).toLongLong(), m_backend->version(s("todos"), s("a")));
}

void tst_TransactionPersist::awaitSyncWithACustomPersistWaitsForMatchingFields()
{
    auto log = succeeding();
    m_todos->setAwaitSync(true);
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->insert(fullTodo("a", "Milk", false, ""));
    QVERIFY(t);
    QSignalSpy completed(t, &Transaction::completed);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::PersistedAwaitingSync, Timeout);
    QCOMPARE(t->attempts().size(), 1);
    QVERIFY(attempt(t, 0).value(s("completedAt")).toDateTime().isValid());

    // Sync runs that do not bring the change back leave it waiting.
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::PersistedAwaitingSync);
    m_backend->emitUpdate(s("todos"), fullTodo("a", "Not yet", false, ""));
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::PersistedAwaitingSync);
    QCOMPARE(completed.size(), 0);

    // The backend brings the fields as the transaction set them: completed.
    m_backend->emitUpdate(s("todos"), fullTodo("a", "Milk", false, ""));
    DO(runOnce());
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(completed.size(), 1);
    QCOMPARE(log->calls.size(), 1);
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), false);
}

QTEST_GUILESS_MAIN(tst_TransactionPersist)
#include "tst_transactions_persist.moc"
