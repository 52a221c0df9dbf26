// SPDX-License-Identifier: BSD-3-Clause
#include "transactionsfixture.h"

using namespace TransactionTests;

void TransactionsFixture::addStrategies()
{
    QTest::addColumn<SyncCollection::Strategy>("strategy");
    QTest::newRow("ordered") << SyncCollection::Ordered;
    QTest::newRow("parallel") << SyncCollection::Parallel;
}

void TransactionsFixture::setUp()
{
    QFETCH_GLOBAL(SyncCollection::Strategy, strategy);
    m_strategy = strategy;
    m_backend = std::make_unique<TestBackend>();
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    DO(openEngine());
}

void TransactionsFixture::tearDown()
{
    closeEngine(); // the engine before the backend whose transport it uses
    m_backend.reset();
    m_dir.reset();
}

void TransactionsFixture::openEngine(bool withTransport)
{
    m_engine = std::make_unique<SyncEngine>();
    m_engine->setDatabasePath(m_dir->filePath(s("client.sqlite")));
    QVERIFY(m_engine->open());
    m_engine->retryPolicy()->setInitialDelayMs(10);
    m_engine->retryPolicy()->setMaxDelayMs(100);
    if (withTransport)
        m_engine->setTransport(m_backend->transport());
    m_todos = std::make_unique<SyncCollection>(m_engine.get(), s("todos"),
                                               QStringList { s("title"), s("done"), s("note") });
    m_projects = std::make_unique<SyncCollection>(m_engine.get(), s("projects"),
                                                  QStringList { s("name") });
    m_todos->setStrategy(m_strategy);
    m_projects->setStrategy(m_strategy);
    m_history = std::make_unique<TransactionModel>(m_engine.get());
    for (QAbstractItemModel *model : { static_cast<QAbstractItemModel *>(m_todos.get()),
                                       static_cast<QAbstractItemModel *>(m_projects.get()),
                                       static_cast<QAbstractItemModel *>(m_history.get()) }) {
        m_testers.push_back(std::make_unique<QAbstractItemModelTester>(
                model, QAbstractItemModelTester::FailureReportingMode::QtTest));
    }
}

void TransactionsFixture::closeEngine()
{
    m_testers.clear();
    m_history.reset();
    m_todos.reset();
    m_projects.reset();
    m_engine.reset();
}

void TransactionsFixture::reopen(bool withTransport)
{
    closeEngine();
    openEngine(withTransport);
}

void TransactionsFixture::runOnce()
{
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    m_engine->syncNow(); // not running: this run starts now
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), Timeout);
}

void TransactionsFixture::seed(const QVariantMap &record)
{
    const QString key = record.value(s("id")).toString();
    const qint64 version = m_backend->emitUpdate(s("todos"), record);
    QVERIFY(version > 0);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->getByKey(key).value(s("version")).toLongLong(), version,
                              Timeout);
    QCOMPARE(m_todos->getByKey(key).value(s("syncState")).toInt(), int(SyncCollection::Synced));
}

std::shared_ptr<QVariantList> TransactionsFixture::watch(const char *key, const char *field)
{
    auto values = std::make_shared<QVariantList>();
    const QString k = s(key);
    const QString f = s(field);
    SyncCollection *model = m_todos.get();
    auto note = [values, model, k, f] {
        if (model->indexOfKey(k) >= 0)
            values->append(model->getByKey(k).value(f));
    };
    connect(model, &QAbstractItemModel::dataChanged, this, note);
    connect(model, &QAbstractItemModel::rowsInserted, this, note);
    connect(model, &QAbstractItemModel::modelReset, this, note);
    return values;
}

int TransactionsFixture::timesPushed(const QString &mutationId) const
{
    int n = 0;
    for (const PushMutation &m : m_backend->pushedMutations())
        n += m.id == mutationId ? 1 : 0;
    return n;
}

QStringList TransactionsFixture::pushedTransactions() const
{
    QStringList txs;
    for (const PushMutation &m : m_backend->pushedMutations()) {
        if (txs.isEmpty() || txs.constLast() != m.tx)
            txs.append(m.tx);
    }
    return txs;
}
