// SPDX-License-Identifier: BSD-3-Clause
#include <synq/synccollection.h>
#include <synq/syncengine.h>
#include <synq/testbackend.h>
#include <synq/transactionmodel.h>

#include <QtCore/QTemporaryDir>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include "modelrecorder.h"

#include <memory>

using namespace Synq;
using SynqTest::ModelRecorder;

namespace {

const QStringList allRoleNames = {
    QStringLiteral("transactionId"), QStringLiteral("state"),
    QStringLiteral("stateName"),     QStringLiteral("strategy"),
    QStringLiteral("createdAt"),     QStringLiteral("updatedAt"),
    QStringLiteral("mutationCount"), QStringLiteral("attemptCount"),
    QStringLiteral("currentAttempt"), QStringLiteral("nextRetryAt"),
    QStringLiteral("queuedBehind"),  QStringLiteral("errorCode"),
    QStringLiteral("errorMessage"),  QStringLiteral("failedBecauseOf"),
    QStringLiteral("collections"),   QStringLiteral("keys"),
};

// The roles whose values differ between two get() maps.
QSet<QString> differingRoles(const QVariantMap &before, const QVariantMap &after)
{
    QSet<QString> out;
    for (const QString &name : allRoleNames) {
        if (before.value(name) != after.value(name))
            out.insert(name);
    }
    return out;
}

QStringList ids(const TransactionModel *model)
{
    QStringList out;
    for (int i = 0; i < model->rowCount(); ++i)
        out << model->index(i).data(TransactionModel::TransactionIdRole).toString();
    return out;
}

QStringList ids(const QList<Transaction *> &transactions)
{
    QStringList out;
    for (const Transaction *t : transactions)
        out << t->id();
    return out;
}

QVariantMap item(const QString &title)
{
    return { { QStringLiteral("title"), title } };
}

} // namespace

class tst_TransactionModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void init();
    void cleanup();

    void rolesAreTheApiRoles();
    void emptyWithoutEngine();
    void insertAppendsARowWithItsRoles();
    void everyMutationIsARowInCommitOrder();
    void modelMadeLaterListsTheHistory();
    void collectionFilterKeepsTransactionsTouchingIt();
    void explicitTransactionIsARowOnceCommitted();
    void statesAreNormalized_data();
    void statesAreNormalized();
    void stateChangesSignalExactlyTheChangedRoles();
    void rowsEnterAndLeaveTheStateFilter();
    void rowEnteringTheFilterKeepsCommitOrder();
    void scheduledRetryShowsNextRetryAt();
    void deadLettersAndDependencyFailures();
    void discardRemovesTheRow();
    void scopeChangeResets();
    void closeAndOpenReread();
    void changingTheEngineResets();
    void destroyedEngineEmptiesTheModel();
    void manyTransactionsStayInOrder();

private:
    TransactionModel *makeModel(SyncEngine *engine = nullptr)
    {
        auto *model = new TransactionModel(this);
        new QAbstractItemModelTester(model, QAbstractItemModelTester::FailureReportingMode::QtTest,
                                     model);
        model->setEngine(engine);
        m_models.emplace_back(model);
        return model;
    }
    TransactionModel *makeModel(const QVariantList &states)
    {
        TransactionModel *model = makeModel(m_engine.get());
        model->setStates(states);
        return model;
    }
    SyncCollection *makeCollection(SyncEngine *engine, const QString &name)
    {
        QFETCH_GLOBAL(SyncCollection::Strategy, strategy);
        auto *c = new SyncCollection(engine, name, { QStringLiteral("title") }, this);
        c->setStrategy(strategy);
        m_collections.emplace_back(c);
        return c;
    }
    // One sync run, started now and waited for.
    bool sync()
    {
        QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
        m_engine->syncNow();
        return finished.wait(5000);
    }
    // Starts a run whose push stays out for a while: the transactions are Persisting.
    void startSlowRun()
    {
        m_backend->setNetworkDelay(100);
        m_engine->syncNow();
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Testing::TestBackend> m_backend;
    std::unique_ptr<SyncEngine> m_engine;
    std::vector<std::unique_ptr<TransactionModel>> m_models;
    std::vector<std::unique_ptr<SyncCollection>> m_collections;
    SyncCollection *m_todos = nullptr;
    SyncCollection *m_projects = nullptr;
};

void tst_TransactionModel::initTestCase_data()
{
    QTest::addColumn<SyncCollection::Strategy>("strategy");
    QTest::addRow("ordered") << SyncCollection::Ordered;
    QTest::addRow("parallel") << SyncCollection::Parallel;
}

void tst_TransactionModel::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_backend = std::make_unique<Testing::TestBackend>();
    m_engine = std::make_unique<SyncEngine>();
    m_engine->setAutoSync(false); // runs start only through syncNow() here
    m_engine->setDurability(SyncEngine::Normal); // no fsync per commit: the tests make many
    m_engine->setDatabasePath(m_dir->filePath(QStringLiteral("model.sqlite")));
    m_engine->retryPolicy()->setJitter(0);
    QVERIFY(m_engine->open());
    m_engine->setTransport(m_backend->transport());
    m_todos = makeCollection(m_engine.get(), QStringLiteral("todos"));
    m_projects = makeCollection(m_engine.get(), QStringLiteral("projects"));
}

void tst_TransactionModel::cleanup()
{
    m_models.clear();
    m_collections.clear();
    m_todos = nullptr;
    m_projects = nullptr;
    m_engine.reset();
    m_backend.reset();
    m_dir.reset();
}

void tst_TransactionModel::rolesAreTheApiRoles()
{
    TransactionModel *model = makeModel(m_engine.get());
    const QHash<int, QByteArray> names = model->roleNames();
    for (int i = 0; i < allRoleNames.size(); ++i)
        QCOMPARE(names.value(TransactionModel::TransactionIdRole + i),
                 allRoleNames.at(i).toLatin1());
    QCOMPARE(int(TransactionModel::TransactionIdRole), Qt::UserRole + 1);
    QCOMPARE(int(TransactionModel::KeysRole), Qt::UserRole + 16);
    // Besides them only Qt's standard roles.
    for (auto it = names.cbegin(); it != names.cend(); ++it)
        QVERIFY2(it.key() < Qt::UserRole || allRoleNames.contains(QString::fromLatin1(it.value())),
                 it.value().constData());
}

void tst_TransactionModel::emptyWithoutEngine()
{
    TransactionModel *model = makeModel();
    QCOMPARE(model->engine(), nullptr);
    QCOMPARE(model->count(), 0);
    QVERIFY(model->get(0).isEmpty());
    QCOMPARE(model->transactionAt(0), nullptr);
    QCOMPARE(model->indexOf(QStringLiteral("nope")), -1);
    // Mutations elsewhere do not reach a model without an engine.
    QVERIFY(m_todos->insert(item(QStringLiteral("a"))));
    QCOMPARE(model->count(), 0);
}

void tst_TransactionModel::insertAppendsARowWithItsRoles()
{
    QFETCH_GLOBAL(SyncCollection::Strategy, strategy);
    TransactionModel *model = makeModel(m_engine.get());
    QCOMPARE(model->count(), 0);
    ModelRecorder rec(model);
    QSignalSpy count(model, &TransactionModel::countChanged);

    // The row is there before insert() returns.
    Transaction *t = m_todos->insert(item(QStringLiteral("Milk")));
    QVERIFY(t);
    QCOMPARE(rec.structural(), QStringList { QStringLiteral("inserted 0-0") });
    QCOMPARE(count.size(), 1);
    QCOMPARE(model->count(), 1);
    QCOMPARE(model->rowCount(), 1);

    const QModelIndex i = model->index(0);
    QCOMPARE(i.data(TransactionModel::TransactionIdRole).toString(), t->id());
    QCOMPARE(i.data(Qt::DisplayRole).toString(), t->id());
    QCOMPARE(i.data(TransactionModel::StateRole).toInt(), int(t->state()));
    QCOMPARE(i.data(TransactionModel::StateNameRole).toString(), t->stateName());
    QVERIFY(t->state() == Transaction::Pending || t->state() == Transaction::Queued);
    QCOMPARE(i.data(TransactionModel::StrategyRole).toInt(), int(strategy));
    QCOMPARE(i.data(TransactionModel::CreatedAtRole).toDateTime(), t->createdAt());
    QVERIFY(t->createdAt().isValid());
    QCOMPARE(i.data(TransactionModel::UpdatedAtRole).toDateTime(), t->updatedAt());
    QCOMPARE(i.data(TransactionModel::MutationCountRole).toInt(), 1);
    QCOMPARE(i.data(TransactionModel::AttemptCountRole).toInt(), 0);
    QCOMPARE(i.data(TransactionModel::CurrentAttemptRole).toInt(), 0);
    QVERIFY(!i.data(TransactionModel::NextRetryAtRole).toDateTime().isValid());
    QCOMPARE(i.data(TransactionModel::QueuedBehindRole).toString(), QString());
    QCOMPARE(i.data(TransactionModel::ErrorCodeRole).toInt(), int(SyncError::None));
    QCOMPARE(i.data(TransactionModel::ErrorMessageRole).toString(), QString());
    QCOMPARE(i.data(TransactionModel::FailedBecauseOfRole).toString(), QString());
    QCOMPARE(i.data(TransactionModel::CollectionsRole).toStringList(),
             QStringList { QStringLiteral("todos") });
    QCOMPARE(i.data(TransactionModel::KeysRole).toStringList(), QStringList { t->key() });

    // get() names every role; transactionAt() and indexOf() find the handle.
    const QVariantMap row = model->get(0);
    QCOMPARE(QSet<QString>(row.keyBegin(), row.keyEnd()),
             QSet<QString>(allRoleNames.cbegin(), allRoleNames.cend()));
    QCOMPARE(row.value(QStringLiteral("transactionId")).toString(), t->id());
    QCOMPARE(row.value(QStringLiteral("stateName")).toString(), t->stateName());
    QCOMPARE(row.value(QStringLiteral("keys")).toStringList(), QStringList { t->key() });
    QCOMPARE(model->transactionAt(0), t);
    QCOMPARE(model->indexOf(t->id()), 0);
    QVERIFY(model->get(1).isEmpty());
    QVERIFY(model->get(-1).isEmpty());
    QCOMPARE(model->transactionAt(1), nullptr);
}

void tst_TransactionModel::everyMutationIsARowInCommitOrder()
{
    TransactionModel *model = makeModel(m_engine.get());
    QSignalSpy inserted(model, &QAbstractItemModel::rowsInserted);

    Transaction *a = m_todos->insert(item(QStringLiteral("a")));
    QVERIFY(a);
    Transaction *b = m_todos->update(a->key(), item(QStringLiteral("b")));
    QVERIFY(b);
    Transaction *many = m_projects->insertMany(QVariantList { item(QStringLiteral("p1")),
                                                              item(QStringLiteral("p2")),
                                                              item(QStringLiteral("p3")) });
    QVERIFY(many);
    Transaction *gone = m_todos->remove(a->key());
    QVERIFY(gone);

    QCOMPARE(inserted.size(), 4);
    for (int i = 0; i < 4; ++i) {
        QCOMPARE(inserted.at(i).at(1).toInt(), i);
        QCOMPARE(inserted.at(i).at(2).toInt(), i);
    }
    QCOMPARE(ids(model), (QStringList { a->id(), b->id(), many->id(), gone->id() }));
    QCOMPARE(ids(model), ids(m_engine->transactionHistory()));

    QCOMPARE(model->get(1).value(QStringLiteral("keys")).toStringList(), QStringList { a->key() });
    const QVariantMap bulk = model->get(2);
    QCOMPARE(bulk.value(QStringLiteral("mutationCount")).toInt(), 3);
    QCOMPARE(bulk.value(QStringLiteral("collections")).toStringList(),
             QStringList { QStringLiteral("projects") });
    QCOMPARE(bulk.value(QStringLiteral("keys")).toStringList().size(), 3);
    QCOMPARE(model->transactionAt(3), gone);
}

void tst_TransactionModel::modelMadeLaterListsTheHistory()
{
    QList<Transaction *> made;
    for (int i = 0; i < 5; ++i)
        made << (i % 2 ? m_projects : m_todos)->insert(item(QString::number(i)));
    QVERIFY(!made.contains(nullptr));

    TransactionModel *model = makeModel(m_engine.get());
    QCOMPARE(model->count(), 5);
    QCOMPARE(ids(model), ids(made));
    for (int i = 0; i < 5; ++i) {
        QCOMPARE(model->transactionAt(i), made.at(i));
        QCOMPARE(model->indexOf(made.at(i)->id()), i);
    }
}

void tst_TransactionModel::collectionFilterKeepsTransactionsTouchingIt()
{
    Transaction *t1 = m_todos->insert(item(QStringLiteral("t1")));
    Transaction *p1 = m_projects->insert(item(QStringLiteral("p1")));
    QVERIFY(t1 && p1);

    TransactionModel *model = makeModel(m_engine.get());
    QSignalSpy collectionChanged(model, &TransactionModel::collectionChanged);
    QSignalSpy count(model, &TransactionModel::countChanged);
    ModelRecorder rec(model);
    model->setCollection(QStringLiteral("projects"));
    QCOMPARE(model->collection(), QStringLiteral("projects"));
    QCOMPARE(collectionChanged.size(), 1);
    QCOMPARE(rec.take(), QStringList { QStringLiteral("reset") });
    QCOMPARE(count.size(), 1);
    QCOMPARE(ids(model), QStringList { p1->id() });

    // A change elsewhere is not a row; one in the collection is appended.
    QVERIFY(m_todos->insert(item(QStringLiteral("t2"))));
    QCOMPARE(rec.structural(), QStringList());
    Transaction *p2 = m_projects->insert(item(QStringLiteral("p2")));
    QVERIFY(p2);
    QCOMPARE(rec.structural(), QStringList { QStringLiteral("inserted 1-1") });
    QCOMPARE(ids(model), (QStringList { p1->id(), p2->id() }));
    rec.take();

    // Setting the same value again changes nothing.
    model->setCollection(QStringLiteral("projects"));
    QCOMPARE(collectionChanged.size(), 1);
    QCOMPARE(rec.take(), QStringList());

    model->setCollection(QStringLiteral("todos"));
    QCOMPARE(rec.take(), QStringList { QStringLiteral("reset") });
    QCOMPARE(model->count(), 2);
    QCOMPARE(model->get(0).value(QStringLiteral("transactionId")).toString(), t1->id());

    // An unknown collection lists nothing; no filter lists everything.
    model->setCollection(QStringLiteral("nothing"));
    QCOMPARE(model->count(), 0);
    model->setCollection(QString());
    QCOMPARE(model->count(), 4);
    QCOMPARE(ids(model), ids(m_engine->transactionHistory()));
}

void tst_TransactionModel::explicitTransactionIsARowOnceCommitted()
{
    TransactionModel *all = makeModel(m_engine.get());
    TransactionModel *todos = makeModel(m_engine.get());
    todos->setCollection(QStringLiteral("todos"));
    TransactionModel *projects = makeModel(m_engine.get());
    projects->setCollection(QStringLiteral("projects"));
    ModelRecorder allRec(all);
    ModelRecorder todosRec(todos);
    ModelRecorder projectsRec(projects);

    // Staged changes are no transaction of the history yet; a rollback leaves none.
    Transaction *dropped = m_engine->begin();
    QVERIFY(dropped);
    QVERIFY(!dropped->insert(QStringLiteral("todos"), item(QStringLiteral("never"))).isEmpty());
    dropped->rollback();
    Transaction *t = m_engine->begin();
    QVERIFY(t);
    const QString todoKey = t->insert(QStringLiteral("todos"), item(QStringLiteral("a")));
    const QString projectKey = t->insert(QStringLiteral("projects"), item(QStringLiteral("p")));
    QVERIFY(!todoKey.isEmpty() && !projectKey.isEmpty());
    QVERIFY(t->update(QStringLiteral("todos"), todoKey, item(QStringLiteral("b"))));
    QCOMPARE(all->count(), 0);
    QCOMPARE(allRec.events, QStringList());

    // Committed, it is one row in every model whose filter it passes.
    QVERIFY(t->commit());
    QCOMPARE(allRec.structural(), QStringList { QStringLiteral("inserted 0-0") });
    QCOMPARE(todosRec.structural(), QStringList { QStringLiteral("inserted 0-0") });
    QCOMPARE(projectsRec.structural(), QStringList { QStringLiteral("inserted 0-0") });
    const QVariantMap row = all->get(0);
    QCOMPARE(row.value(QStringLiteral("transactionId")).toString(), t->id());
    QCOMPARE(row.value(QStringLiteral("mutationCount")).toInt(), t->mutationCount());
    QStringList collections = row.value(QStringLiteral("collections")).toStringList();
    collections.sort();
    QCOMPARE(collections, (QStringList { QStringLiteral("projects"), QStringLiteral("todos") }));
    QStringList keys = row.value(QStringLiteral("keys")).toStringList();
    keys.sort();
    QStringList expectedKeys { todoKey, projectKey };
    expectedKeys.sort();
    QCOMPARE(keys, expectedKeys); // distinct: the update does not repeat its key
    QCOMPARE(all->transactionAt(0), t);
}

void tst_TransactionModel::statesAreNormalized_data()
{
    QTest::addColumn<QVariantList>("given");
    QTest::addColumn<QVariantList>("expected");
    QTest::addRow("one state stays one state")
            << QVariantList { int(Transaction::Failed) }
            << QVariantList { int(Transaction::Failed) };
    QTest::addRow("states are sorted and distinct")
            << QVariantList { int(Transaction::Failed), int(Transaction::Pending),
                              int(Transaction::Failed) }
            << QVariantList { int(Transaction::Pending), int(Transaction::Failed) };
    QTest::addRow("state names count as their values")
            << QVariantList { QStringLiteral("Completed"), 1.0 }
            << QVariantList { int(Transaction::Pending), int(Transaction::Completed) };
    QTest::addRow("an unknown state is ignored")
            << QVariantList { 42, QStringLiteral("Done"), int(Transaction::Queued) }
            << QVariantList { int(Transaction::Queued) };
    QTest::addRow("an empty list is no filter") << QVariantList() << QVariantList();
}

void tst_TransactionModel::statesAreNormalized()
{
    QFETCH(QVariantList, given);
    QFETCH(QVariantList, expected);
    Transaction *pending = m_todos->insert(item(QStringLiteral("a")));
    QVERIFY(pending);
    TransactionModel *model = makeModel(m_engine.get());
    QSignalSpy changed(model, &TransactionModel::statesChanged);
    model->setStates(given);
    QCOMPARE(model->states(), expected);
    QCOMPARE(changed.size(), expected.isEmpty() ? 0 : 1);
    const bool listsPending = expected.isEmpty() || expected.contains(int(pending->state()));
    QCOMPARE(model->count(), listsPending ? 1 : 0);
    // The same filter again is no change.
    model->setStates(given);
    QCOMPARE(changed.size(), expected.isEmpty() ? 0 : 1);
}

void tst_TransactionModel::stateChangesSignalExactlyTheChangedRoles()
{
    TransactionModel *model = makeModel(m_engine.get());
    Transaction *t = m_todos->insert(item(QStringLiteral("Milk")));
    QVERIFY(t);
    ModelRecorder rec(model);
    QVariantMap before = model->get(0);
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);

    // Pending -> Persisting: an attempt starts.
    startSlowRun();
    QTRY_COMPARE(t->state(), Transaction::Persisting);
    QCOMPARE(rec.structural(), QStringList());
    QVariantMap now = model->get(0);
    QCOMPARE(now.value(QStringLiteral("state")).toInt(), int(Transaction::Persisting));
    QCOMPARE(now.value(QStringLiteral("stateName")).toString(), QStringLiteral("Persisting"));
    QCOMPARE(now.value(QStringLiteral("currentAttempt")).toInt(), 1);
    QCOMPARE(now.value(QStringLiteral("attemptCount")).toInt(), 1);
    QVERIFY(!rec.events.isEmpty());
    QCOMPARE(rec.changedRoles.keys(), QList<int> { 0 });
    QCOMPARE(rec.changedRoles.value(0), differingRoles(before, now));
    rec.take();
    before = now;

    // Persisting -> Completed.
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 5000);
    QCOMPARE(t->state(), Transaction::Completed);
    now = model->get(0);
    QCOMPARE(now.value(QStringLiteral("state")).toInt(), int(Transaction::Completed));
    QCOMPARE(now.value(QStringLiteral("stateName")).toString(), QStringLiteral("Completed"));
    QCOMPARE(rec.structural(), QStringList());
    QCOMPARE(rec.changedRoles.keys(), QList<int> { 0 });
    QCOMPARE(rec.changedRoles.value(0), differingRoles(before, now));
    // Completed transactions stay listed.
    QCOMPARE(model->count(), 1);
    QCOMPARE(model->transactionAt(0), t);
    QCOMPARE(m_backend->records(QStringLiteral("todos")).size(), 1);
}

void tst_TransactionModel::rowsEnterAndLeaveTheStateFilter()
{
    Transaction *t = m_todos->insert(item(QStringLiteral("Milk")));
    QVERIFY(t);
    TransactionModel *active = makeModel(QVariantList { int(Transaction::Queued),
                                                        int(Transaction::Pending) });
    TransactionModel *persisting = makeModel(QVariantList { int(Transaction::Persisting) });
    TransactionModel *completed = makeModel(QVariantList { int(Transaction::Completed) });
    QCOMPARE(active->count(), 1);
    QCOMPARE(persisting->count(), 0);
    QCOMPARE(completed->count(), 0);
    ModelRecorder activeRec(active);
    ModelRecorder persistingRec(persisting);
    ModelRecorder completedRec(completed);
    QSignalSpy activeCount(active, &TransactionModel::countChanged);
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);

    startSlowRun();
    QTRY_COMPARE(t->state(), Transaction::Persisting);
    QCOMPARE(activeRec.take(), QStringList { QStringLiteral("removed 0-0") });
    QCOMPARE(activeCount.size(), 1);
    QCOMPARE(persistingRec.structural(), QStringList { QStringLiteral("inserted 0-0") });
    persistingRec.take();
    QCOMPARE(persisting->transactionAt(0), t);
    QCOMPARE(completedRec.take(), QStringList());

    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 5000);
    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(persistingRec.structural(), QStringList { QStringLiteral("removed 0-0") });
    QCOMPARE(completedRec.structural(), QStringList { QStringLiteral("inserted 0-0") });
    QCOMPARE(completed->transactionAt(0), t);
    QCOMPARE(active->count(), 0);
    QCOMPARE(persisting->count(), 0);

    // Changing the filter resets.
    completedRec.take();
    completed->setStates({});
    QCOMPARE(completedRec.take(), QStringList { QStringLiteral("reset") });
    QCOMPARE(completed->count(), 1);
}

void tst_TransactionModel::rowEnteringTheFilterKeepsCommitOrder()
{
    // The first transaction completes after the second: it still comes first.
    m_engine->retryPolicy()->setInitialDelayMs(200);
    Transaction *first = m_todos->insert(item(QStringLiteral("first")));
    Transaction *second = m_projects->insert(item(QStringLiteral("second")));
    QVERIFY(first && second);
    TransactionModel *completed = makeModel(QVariantList { int(Transaction::Completed) });
    ModelRecorder rec(completed);

    // The backend asks to retry the first transaction it sees, and applies the second.
    m_backend->failNextPersist(
            SyncError(SyncError::Network, QStringLiteral("busy")).setRetryable(true));
    QVERIFY(sync());
    QCOMPARE(second->state(), Transaction::Completed);
    QCOMPARE(first->state(), Transaction::Pending);
    QCOMPARE(rec.structural(), QStringList { QStringLiteral("inserted 0-0") });
    QCOMPARE(ids(completed), QStringList { second->id() });
    rec.take();

    // The retry completes the first one: it goes in before the second.
    for (int run = 0; run < 50 && first->state() != Transaction::Completed; ++run) {
        QVERIFY(sync());
        if (first->state() != Transaction::Completed)
            QTest::qWait(50); // until the retry is due
    }
    QCOMPARE(first->state(), Transaction::Completed);
    QCOMPARE(rec.structural(), QStringList { QStringLiteral("inserted 0-0") });
    QCOMPARE(ids(completed), (QStringList { first->id(), second->id() }));
}

void tst_TransactionModel::scheduledRetryShowsNextRetryAt()
{
    m_engine->retryPolicy()->setInitialDelayMs(30000); // not due during the test
    TransactionModel *model = makeModel(m_engine.get());
    Transaction *t = m_todos->insert(item(QStringLiteral("Milk")));
    QVERIFY(t);
    ModelRecorder rec(model);
    m_backend->failNextPersist(
            SyncError(SyncError::Network, QStringLiteral("busy")).setRetryable(true));
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    const QDateTime sent = QDateTime::currentDateTimeUtc();
    startSlowRun();
    QTRY_COMPARE(t->state(), Transaction::Persisting);
    const QVariantMap before = model->get(0);
    rec.take();
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 5000);
    QCOMPARE(t->state(), Transaction::Pending);

    const QVariantMap row = model->get(0);
    QCOMPARE(row.value(QStringLiteral("stateName")).toString(), QStringLiteral("Pending"));
    QCOMPARE(row.value(QStringLiteral("attemptCount")).toInt(), 1);
    QCOMPARE(row.value(QStringLiteral("errorCode")).toInt(), int(SyncError::Network));
    QCOMPARE(row.value(QStringLiteral("errorMessage")).toString(), t->error().message());
    const QDateTime next = row.value(QStringLiteral("nextRetryAt")).toDateTime();
    QVERIFY(next.isValid());
    QCOMPARE(next, t->attempts().constLast().toMap().value(QStringLiteral("retryScheduledFor"))
                           .toDateTime());
    QVERIFY2(next >= sent.addMSecs(29000), qPrintable(next.toString(Qt::ISODateWithMs)));
    QCOMPARE(rec.structural(), QStringList());
    QCOMPARE(rec.changedRoles.value(0), differingRoles(before, row));
    QVERIFY(rec.changedRoles.value(0).contains(QStringLiteral("nextRetryAt")));
}

void tst_TransactionModel::deadLettersAndDependencyFailures()
{
    QFETCH_GLOBAL(SyncCollection::Strategy, strategy);
    // Two changes in one transaction: compaction leaves it alone, so the update stays a
    // transaction of its own.
    Transaction *first = m_todos->insertMany(QVariantList { item(QStringLiteral("first")),
                                                            item(QStringLiteral("second")) });
    QVERIFY(first);
    Transaction *onTop = m_todos->update(first->key(), item(QStringLiteral("on top")));
    Transaction *other = m_projects->insert(item(QStringLiteral("other")));
    QVERIFY(onTop && other);
    TransactionModel *all = makeModel(m_engine.get());
    TransactionModel *dead = makeModel(QVariantList { int(Transaction::Failed) });
    QCOMPARE(dead->count(), 0);
    ModelRecorder allRec(all);
    ModelRecorder deadRec(dead);
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);

    // The backend refuses the first transaction it sees.
    m_backend->failNextPersist(SyncError(SyncError::Validation, QStringLiteral("title too short")));
    startSlowRun();
    QTRY_COMPARE(first->state(), Transaction::Persisting);
    if (strategy == SyncCollection::Ordered) {
        // The update waits for the insert of its item.
        QCOMPARE(onTop->state(), Transaction::Queued);
        QCOMPARE(all->get(1).value(QStringLiteral("queuedBehind")).toString(), first->id());
        QCOMPARE(all->get(1).value(QStringLiteral("stateName")).toString(),
                 QStringLiteral("Queued"));
        QVERIFY(allRec.changedRoles.value(1).contains(QStringLiteral("queuedBehind")));
    }
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 5000);
    QCOMPARE(first->state(), Transaction::Failed);
    QCOMPARE(other->state(), Transaction::Completed);
    QCOMPARE(dead->get(0).value(QStringLiteral("transactionId")).toString(), first->id());
    QCOMPARE(dead->get(0).value(QStringLiteral("errorCode")).toInt(), int(SyncError::Validation));
    QCOMPARE(dead->get(0).value(QStringLiteral("errorMessage")).toString(),
             first->error().message());
    QCOMPARE(dead->get(0).value(QStringLiteral("failedBecauseOf")).toString(), QString());

    if (strategy == SyncCollection::Ordered) {
        // The dependent update fails with it, naming the cause.
        QCOMPARE(ids(dead), (QStringList { first->id(), onTop->id() }));
        QCOMPARE(dead->get(1).value(QStringLiteral("failedBecauseOf")).toString(), first->id());
        QCOMPARE(dead->get(1).value(QStringLiteral("errorCode")).toInt(),
                 int(SyncError::Validation));
        QCOMPARE(deadRec.structural().size(), 2);
    } else {
        // Parallel: the update went out on its own; whatever became of it, it did not wait
        // for the insert and did not fail because of it.
        QVERIFY(onTop->isFinished());
        QCOMPARE(all->get(1).value(QStringLiteral("failedBecauseOf")).toString(), QString());
        QCOMPARE(all->get(1).value(QStringLiteral("queuedBehind")).toString(), QString());
        QCOMPARE(deadRec.structural().constFirst(), QStringLiteral("inserted 0-0"));
    }
    QCOMPARE(all->count(), 3);
    QCOMPARE(allRec.structural(), QStringList());
    deadRec.take();

    // Retrying a dead letter takes it out of the dead letters, not out of the history.
    QVERIFY(m_engine->retry(first->id()));
    QCOMPARE(first->state(), Transaction::Pending);
    QVERIFY(!deadRec.structural().isEmpty());
    QCOMPARE(deadRec.structural().constFirst(), QStringLiteral("removed 0-0"));
    QVERIFY(!ids(dead).contains(first->id()));
    QCOMPARE(all->count(), 3);
    QCOMPARE(all->get(0).value(QStringLiteral("state")).toInt(), int(Transaction::Pending));
}

void tst_TransactionModel::discardRemovesTheRow()
{
    Transaction *a = m_todos->insert(item(QStringLiteral("a")));
    QVERIFY(a);
    QVERIFY(sync());
    QCOMPARE(a->state(), Transaction::Completed);
    // The backend refuses the next transaction: b.
    m_backend->failNextPersist(SyncError(SyncError::Validation, QStringLiteral("no")));
    Transaction *b = m_todos->insert(item(QStringLiteral("b")));
    Transaction *c = m_todos->insert(item(QStringLiteral("c")));
    QVERIFY(b && c);
    const QString bId = b->id();
    TransactionModel *all = makeModel(m_engine.get());
    TransactionModel *dead = makeModel(QVariantList { int(Transaction::Failed) });
    QVERIFY(sync());
    QCOMPARE(ids(dead), QStringList { bId });
    QCOMPARE(c->state(), Transaction::Completed);

    ModelRecorder allRec(all);
    ModelRecorder deadRec(dead);
    QSignalSpy allCount(all, &TransactionModel::countChanged);
    QVERIFY(m_engine->discard(bId));
    QCOMPARE(allRec.structural(), QStringList { QStringLiteral("removed 1-1") });
    QCOMPARE(deadRec.structural(), QStringList { QStringLiteral("removed 0-0") });
    QCOMPARE(allCount.size(), 1);
    QCOMPARE(ids(all), (QStringList { a->id(), c->id() }));
    QCOMPARE(all->indexOf(bId), -1);
    QCOMPARE(all->indexOf(c->id()), 1);
}

void tst_TransactionModel::scopeChangeResets()
{
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("ann") } });
    Transaction *ann = m_todos->insert(item(QStringLiteral("ann's")));
    QVERIFY(ann);
    const QString annId = ann->id();
    TransactionModel *model = makeModel(m_engine.get());
    QCOMPARE(model->count(), 1);

    ModelRecorder rec(model);
    QSignalSpy count(model, &TransactionModel::countChanged);
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("bob") } });
    QVERIFY(!rec.events.isEmpty());
    QVERIFY(rec.events.contains(QStringLiteral("reset")));
    for (const QString &e : std::as_const(rec.events))
        QCOMPARE(e, QStringLiteral("reset")); // a reset, not removals
    QCOMPARE(model->count(), 0);
    QCOMPARE(count.size(), 1);

    Transaction *bob = m_todos->insert(item(QStringLiteral("bob's")));
    QVERIFY(bob);
    QCOMPARE(ids(model), QStringList { bob->id() });

    // Back to ann: her pending transaction comes back from the outbox.
    rec.take();
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("ann") } });
    QVERIFY(rec.events.contains(QStringLiteral("reset")));
    QCOMPARE(ids(model), QStringList { annId });

    // Clearing the scope (logout) drops its transactions: a reset to nothing.
    rec.take();
    QVERIFY(m_engine->clearScope());
    QVERIFY(rec.events.contains(QStringLiteral("reset")));
    QCOMPARE(rec.structural().count(QStringLiteral("reset")), rec.structural().size());
    QCOMPARE(model->count(), 0);
}

void tst_TransactionModel::closeAndOpenReread()
{
    Transaction *a = m_todos->insert(item(QStringLiteral("a")));
    Transaction *b = m_projects->insert(item(QStringLiteral("b")));
    QVERIFY(a && b);
    const QStringList made { a->id(), b->id() };
    TransactionModel *model = makeModel(m_engine.get());
    QCOMPARE(model->count(), 2);
    ModelRecorder rec(model);

    m_engine->close();
    QCOMPARE(model->count(), 0);
    QVERIFY(rec.events.contains(QStringLiteral("reset")));
    rec.take();

    QVERIFY(m_engine->open());
    QTRY_COMPARE(model->count(), 2);
    QVERIFY(rec.events.contains(QStringLiteral("reset")));
    QCOMPARE(ids(model), made);
    QCOMPARE(model->transactionAt(0), m_engine->transaction(made.at(0)));
}

void tst_TransactionModel::changingTheEngineResets()
{
    QVERIFY(m_todos->insert(item(QStringLiteral("a"))));
    QVERIFY(m_todos->insert(item(QStringLiteral("b"))));

    QTemporaryDir otherDir;
    SyncEngine other;
    other.setAutoSync(false);
    other.setDatabasePath(otherDir.filePath(QStringLiteral("other.sqlite")));
    QVERIFY(other.open());
    SyncCollection otherTodos(&other, QStringLiteral("todos"), { QStringLiteral("title") });
    Transaction *o = otherTodos.insert(item(QStringLiteral("other")));
    QVERIFY(o);

    TransactionModel *model = makeModel(m_engine.get());
    QCOMPARE(model->count(), 2);
    ModelRecorder rec(model);
    QSignalSpy engineChanged(model, &TransactionModel::engineChanged);
    QSignalSpy count(model, &TransactionModel::countChanged);
    model->setEngine(&other);
    QCOMPARE(engineChanged.size(), 1);
    QCOMPARE(model->engine(), &other);
    QCOMPARE(rec.take(), QStringList { QStringLiteral("reset") });
    QCOMPARE(count.size(), 1);
    QCOMPARE(ids(model), QStringList { o->id() });

    // The old engine's changes no longer reach the model.
    QVERIFY(m_todos->insert(item(QStringLiteral("c"))));
    QCOMPARE(rec.take(), QStringList());
    model->setEngine(nullptr);
    QCOMPARE(model->count(), 0);
}

void tst_TransactionModel::destroyedEngineEmptiesTheModel()
{
    auto engine = std::make_unique<SyncEngine>();
    QTemporaryDir dir;
    engine->setAutoSync(false);
    engine->setDatabasePath(dir.filePath(QStringLiteral("gone.sqlite")));
    QVERIFY(engine->open());
    {
        SyncCollection todos(engine.get(), QStringLiteral("todos"), { QStringLiteral("title") });
        QVERIFY(todos.insert(item(QStringLiteral("a"))));
    }
    TransactionModel *model = makeModel(engine.get());
    QCOMPARE(model->count(), 1);
    QSignalSpy engineChanged(model, &TransactionModel::engineChanged);
    QSignalSpy count(model, &TransactionModel::countChanged);
    engine.reset();
    QCOMPARE(model->engine(), nullptr);
    QCOMPARE(model->count(), 0);
    QCOMPARE(engineChanged.size(), 1);
    QCOMPARE(count.size(), 1);
    QCOMPARE(model->transactionAt(0), nullptr);
}

void tst_TransactionModel::manyTransactionsStayInOrder()
{
    TransactionModel *all = makeModel(m_engine.get());
    TransactionModel *projects = makeModel(m_engine.get());
    projects->setCollection(QStringLiteral("projects"));
    QSignalSpy inserted(all, &QAbstractItemModel::rowsInserted);
    QList<Transaction *> made;
    for (int i = 0; i < 300; ++i)
        made << (i % 3 ? m_todos : m_projects)->insert(item(QString::number(i)));
    QVERIFY(!made.contains(nullptr));
    QCOMPARE(inserted.size(), 300);
    QCOMPARE(inserted.constLast().at(1).toInt(), 299);
    QCOMPARE(ids(all), ids(made));
    QCOMPARE(projects->count(), 100);
    QCOMPARE(projects->transactionAt(99), made.at(297));
}

QTEST_GUILESS_MAIN(tst_TransactionModel)
#include "tst_transactionmodel.moc"
