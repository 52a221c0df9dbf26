// SPDX-License-Identifier: BSD-3-Clause
#include "figures.h"

#include "benchserver.h"
#include "countingtransport.h"
#include "rawsqlite.h"
#include "report.h"

#include <synq/httptransport.h>
#include <synq/json.h>
#include <synq/keygenerator.h>
#include <synq/protocol.h>
#include <synq/records.h>
#include <synq/synccollection.h>
#include <synq/syncdatabase.h>
#include <synq/syncengine.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtCore/QTemporaryDir>
#include <QtCore/QThread>
#include <QtCore/QTimer>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>

#include <malloc.h>
#include <time.h>

using namespace Synq;

namespace SynqBench {

namespace {

const QStringList Fields = { QStringLiteral("title"), QStringLiteral("done"), QStringLiteral("n") };

// Every item of every figure: three fields; Synq adds the key as "id" (a 36-character
// UUIDv7). About 75 bytes of compact JSON.
QVariantMap makeItem(int i)
{
    return { { QStringLiteral("title"), QStringLiteral("Item %1: buy milk and bread").arg(i) },
             { QStringLiteral("done"), i % 3 == 0 },
             { QStringLiteral("n"), i } };
}

QVariantList makeItems(int count, int first = 0)
{
    QVariantList items;
    items.reserve(count);
    for (int i = 0; i < count; ++i)
        items.append(makeItem(first + i));
    return items;
}

qint64 nowNs()
{
    static QElapsedTimer clock;
    if (!clock.isValid())
        clock.start();
    return clock.nsecsElapsed();
}

double msSince(qint64 startNs)
{
    return double(nowNs() - startNs) / 1e6;
}

// Runs the event loop until done() (checked after every event batch and every 5 ms), at
// most timeoutMs. Completion times are taken in signal handlers, never here.
bool waitFor(const std::function<bool()> &done, int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    while (!done()) {
        if (deadline.hasExpired())
            return false;
        QEventLoop loop;
        QTimer::singleShot(5, &loop, &QEventLoop::quit);
        loop.exec();
    }
    return true;
}

void idle(int ms)
{
    const qint64 until = nowNs() + qint64(ms) * 1000000;
    waitFor([&] { return nowNs() >= until; }, ms + 1000);
}

bool failMeasurement(const QString &figure, const QString &why)
{
    note(QStringLiteral("%1: cannot measure: %2").arg(figure, why));
    return false;
}

SyncDatabase::Synchronous toSynchronous(SyncEngine::Durability d)
{
    return d == SyncEngine::Full ? SyncDatabase::Synchronous::Full
                                 : SyncDatabase::Synchronous::Normal;
}

RawSqlite::Synchronous toRaw(SyncEngine::Durability d)
{
    return d == SyncEngine::Full ? RawSqlite::Synchronous::Full : RawSqlite::Synchronous::Normal;
}

QString durabilityName(SyncEngine::Durability d)
{
    return d == SyncEngine::Full ? QStringLiteral("Full") : QStringLiteral("Normal");
}

// Times one raw bulk write of items into a fresh file; milliseconds, or NaN on failure.
double timeRawBulk(const QString &path, const QVariantList &items, bool withOutbox,
                   SyncEngine::Durability durability)
{
    RawSqlite raw(path);
    if (!raw.open(toRaw(durability))) {
        note(QStringLiteral("raw SQLite: %1").arg(raw.errorString()));
        return std::nan("");
    }
    const qint64 t0 = nowNs();
    if (!raw.bulk(items, withOutbox)) {
        note(QStringLiteral("raw SQLite: %1").arg(raw.errorString()));
        return std::nan("");
    }
    return msSince(t0);
}

// The heap in use: malloc'ed bytes in every arena plus mmap'ed blocks (large lists).
qint64 heapInUse()
{
    const struct mallinfo2 info = mallinfo2();
    return qint64(info.uordblks) + qint64(info.hblkhd);
}

qint64 residentBytes()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').constFirst().toLongLong() * 1024;
    }
    return 0;
}

// A file with `rows` synced rows of collection "cold", written through SyncDatabase the way
// a pull writes them (pages in SQL transactions), for the cold-open and memory figures.
struct Fixture
{
    QTemporaryDir dir;
    QString path;
    int rows = 0;
    qint64 jsonBytes = 0; // compact JSON of every row's data, as stored
};

std::shared_ptr<Fixture> fixture(int rows)
{
    static std::shared_ptr<Fixture> made;
    if (made && made->rows == rows)
        return made;
    auto f = std::make_shared<Fixture>();
    f->path = f->dir.filePath(QStringLiteral("replica.sqlite"));
    f->rows = rows;
    const qint64 t0 = nowNs();
    SyncDatabase db(f->path);
    if (db.open(SyncDatabase::Synchronous::Normal).isError())
        return nullptr;
    const QString scope = scopeId(QVariantMap());
    for (int first = 0; first < rows; first += 5000) {
        QList<SyncDatabase::SyncedWrite> writes;
        for (int i = first; i < qMin(rows, first + 5000); ++i) {
            SyncDatabase::SyncedWrite w;
            w.collection = QStringLiteral("cold");
            w.key = KeyGenerator::global().next();
            w.version = i + 1;
            QJsonObject data = QJsonObject::fromVariantMap(makeItem(i));
            data.insert(QStringLiteral("id"), w.key);
            f->jsonBytes += Json::encode(data).size();
            w.synced = data;
            writes.append(w);
        }
        if (db.writeSynced(scope, {}, &writes).isError())
            return nullptr;
    }
    db.close();
    note(QStringLiteral("fixture: %1 synced rows written in %2 ms (%3 bytes of JSON)")
                 .arg(rows)
                 .arg(msSince(t0), 0, 'f', 0)
                 .arg(f->jsonBytes));
    made = f;
    return f;
}

// Runs this program as a child (--child mode file); its last stdout line is a JSON object.
bool runChild(const Options &options, const QString &mode, const QString &file, QJsonObject *out)
{
    QProcess child;
    child.setProcessChannelMode(QProcess::SeparateChannels);
    child.start(options.self, { QStringLiteral("--child"), mode, file });
    if (!child.waitForStarted(10000))
        return false;
    if (!child.waitForFinished(120000)) {
        child.kill();
        child.waitForFinished(10000);
        return false;
    }
    const QList<QByteArray> lines = child.readAllStandardOutput().trimmed().split('\n');
    const QJsonDocument doc = QJsonDocument::fromJson(lines.constLast());
    if (child.exitCode() != 0 || !doc.isObject()) {
        note(QStringLiteral("child %1 failed: %2").arg(mode, QString::fromUtf8(child.readAllStandardError())));
        return false;
    }
    *out = doc.object();
    return true;
}

} // namespace

QStringList figureGroups()
{
    return { QStringLiteral("mutation"), QStringLiteral("insert_many"), QStringLiteral("pull"),
             QStringLiteral("push"),     QStringLiteral("cold_open"),  QStringLiteral("memory") };
}

void describeMachine()
{
    QString cpu;
    QFile info(QStringLiteral("/proc/cpuinfo"));
    if (info.open(QIODevice::ReadOnly)) {
        for (const QByteArray &line : info.readAll().split('\n')) {
            if (line.startsWith("model name")) {
                cpu = QString::fromUtf8(line.mid(line.indexOf(':') + 1).trimmed());
                break;
            }
        }
    }
    QString sqlite;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"),
                                                    QStringLiteral("synq-bench-version"));
        db.setDatabaseName(QStringLiteral(":memory:"));
        if (db.open()) {
            QSqlQuery q(db);
            if (q.exec(QStringLiteral("SELECT sqlite_version()")) && q.next())
                sqlite = q.value(0).toString();
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("synq-bench-version"));
    note(QStringLiteral("synq-bench: Qt %1, SQLite %2, %3, %4 cores, %5 build")
                 .arg(QString::fromLatin1(qVersion()), sqlite, cpu)
                 .arg(QThread::idealThreadCount())
                 .arg(QStringLiteral(SYNQ_BENCH_BUILD_TYPE).isEmpty()
                              ? QStringLiteral("unspecified")
                              : QStringLiteral(SYNQ_BENCH_BUILD_TYPE)));
}

// --- 1. One optimistic mutation ------------------------------------------------------------

bool runMutation(const Options &options)
{
    const int count = options.mutations;
    const int block = qMax(10, qMin(100, count / 10));
    bool ok = true;
    for (const SyncEngine::Durability durability : { SyncEngine::Full, SyncEngine::Normal }) {
        const QString level = durabilityName(durability);
        if (!options.durabilities.contains(level.toLower()))
            continue;
        QTemporaryDir dir;
        RawSqlite raw(dir.filePath(QStringLiteral("raw.sqlite")));
        if (!raw.open(toRaw(durability)))
            return failMeasurement(QStringLiteral("mutation"), raw.errorString());

        SyncEngine engine;
        engine.setAutoSync(false);
        engine.setDurability(durability);
        engine.setDatabasePath(dir.filePath(QStringLiteral("synq.sqlite")));
        if (!engine.open())
            return failMeasurement(QStringLiteral("mutation"),
                                   engine.status()->lastError().toString());
        SyncCollection items(&engine, QStringLiteral("items"), Fields);
        qint64 visibleAt = -1;
        QObject::connect(&items, &QAbstractItemModel::rowsInserted, &items,
                         [&] { visibleAt = nowNs(); });

        QList<double> rawUs;
        QList<double> synqUs;
        QString error;
        auto rawOne = [&](int i, bool keep) {
            const QVariantMap item = makeItem(i);
            const qint64 t0 = nowNs();
            if (!raw.mutate(item))
                error = raw.errorString();
            if (keep)
                rawUs.append(double(nowNs() - t0) / 1000.0);
        };
        auto synqOne = [&](int i, bool keep) {
            const QVariantMap item = makeItem(i);
            visibleAt = -1;
            const qint64 t0 = nowNs();
            Transaction *t = items.insert(item);
            const qint64 returned = nowNs();
            // Durable when insert() returns (it commits first); visible at rowsInserted.
            if (!t || visibleAt < t0)
                error = QStringLiteral("insert %1 was refused or not shown").arg(i);
            if (keep)
                synqUs.append(double(qMax(returned, visibleAt) - t0) / 1000.0);
        };

        for (int i = 0; i < 20; ++i) { // warm-up: statements prepared, pages cached
            rawOne(-1 - i, false);
            synqOne(-1 - i, false);
        }
        // Alternating blocks, so drift (WAL growth, checkpoints, the disk) hits both sides.
        for (int done = 0; done < count && error.isEmpty(); done += block) {
            const int n = qMin(block, count - done);
            const bool rawFirst = (done / block) % 2 == 0;
            for (int pass = 0; pass < 2; ++pass) {
                for (int i = done; i < done + n; ++i) {
                    if ((pass == 0) == rawFirst)
                        rawOne(i, true);
                    else
                        synqOne(i, true);
                }
            }
            QCoreApplication::processEvents(); // what an app's event loop does between edits
        }
        if (!error.isEmpty())
            return failMeasurement(QStringLiteral("mutation_") + level.toLower(), error);
        if (items.count() != count + 20)
            return failMeasurement(QStringLiteral("mutation_") + level.toLower(),
                                   QStringLiteral("the model has %1 rows").arg(items.count()));

        const QList<double> firstBlock = synqUs.mid(0, block);
        const QList<double> lastBlock = synqUs.mid(synqUs.size() - block);
        const QString base = QStringLiteral("mutation_") + level.toLower();
        Figure med;
        med.name = base + QStringLiteral("_median");
        med.value = median(synqUs);
        med.unit = QStringLiteral("us");
        med.limit = median(rawUs);
        med.target = durability == SyncEngine::Full ? 1.3 : 2.0;
        med.extra = QJsonObject { { QStringLiteral("durability"), level },
                                  { QStringLiteral("samples"), count },
                                  { QStringLiteral("synq_first_block_median_us"), median(firstBlock) },
                                  { QStringLiteral("synq_last_block_median_us"), median(lastBlock) } };
        emitFigure(med);
        Figure p99;
        p99.name = base + QStringLiteral("_p99");
        p99.value = percentile(synqUs, 99);
        p99.unit = QStringLiteral("us");
        p99.limit = percentile(rawUs, 99);
        p99.extra = QJsonObject { { QStringLiteral("durability"), level },
                                  { QStringLiteral("samples"), count },
                                  { QStringLiteral("synq_max_us"), percentile(synqUs, 100) },
                                  { QStringLiteral("raw_max_us"), percentile(rawUs, 100) } };
        emitFigure(p99);
    }
    return ok;
}

// --- 2. insertMany -------------------------------------------------------------------------

bool runInsertMany(const Options &options)
{
    const int rows = options.rows;
    const SyncEngine::Durability durability = SyncEngine::Full; // the default
    QTemporaryDir dir;
    const QVariantList items = makeItems(rows);

    const double raw1 = timeRawBulk(dir.filePath(QStringLiteral("raw1.sqlite")), items, true, durability);
    const double rawItemsOnly = timeRawBulk(dir.filePath(QStringLiteral("raw-items.sqlite")), items, false, durability);

    SyncEngine engine;
    engine.setAutoSync(false);
    engine.setDurability(durability);
    engine.setDatabasePath(dir.filePath(QStringLiteral("synq.sqlite")));
    if (!engine.open())
        return failMeasurement(QStringLiteral("insert_many"), engine.status()->lastError().toString());
    SyncCollection collection(&engine, QStringLiteral("items"), Fields);
    qint64 visibleAt = -1;
    QObject::connect(&collection, &QAbstractItemModel::rowsInserted, &collection,
                     [&] { visibleAt = nowNs(); });
    const qint64 t0 = nowNs();
    Transaction *t = collection.insertMany(items);
    const qint64 returned = nowNs();
    if (!t || visibleAt < t0 || collection.count() != rows)
        return failMeasurement(QStringLiteral("insert_many"),
                               QStringLiteral("refused, or %1 rows shown").arg(collection.count()));
    const double synqMs = double(qMax(returned, visibleAt) - t0) / 1e6;

    // The limit is the better of two raw runs, one before and one after Synq's.
    const double raw2 = timeRawBulk(dir.filePath(QStringLiteral("raw2.sqlite")), items, true, durability);
    const double rawMs = std::fmin(raw1, raw2);

    Figure f;
    f.name = QStringLiteral("insert_many");
    f.kind = Figure::Rate;
    f.value = rows / (synqMs / 1000.0);
    f.unit = QStringLiteral("rows/s");
    f.limit = rows / (rawMs / 1000.0);
    f.target = 2.0; // at least 50% of the raw rate
    f.extra = QJsonObject { { QStringLiteral("rows"), rows },
                            { QStringLiteral("durability"), durabilityName(durability) },
                            { QStringLiteral("synq_ms"), synqMs },
                            { QStringLiteral("raw_ms"), rawMs },
                            { QStringLiteral("raw_items_only_rows_per_s"), rows / (rawItemsOnly / 1000.0) } };
    emitFigure(f);
    return true;
}

// --- 3. Pull -------------------------------------------------------------------------------

namespace {

// Seeds the server with `rows` new items of `collection` through the protocol: batches of
// 500 (the protocol's maximum), two requests in flight. Returns the items as pushed.
bool seedServer(const QUrl &url, const QString &collection, int rows, QVariantList *items)
{
    HttpTransport http;
    http.setUrl(url);
    http.setTimeoutMs(60000);
    items->clear();
    items->reserve(rows);
    QList<Protocol::PushRequest> requests;
    for (int first = 0; first < rows; first += Protocol::MaxMutationsPerPush) {
        Protocol::PushRequest request;
        request.client = QStringLiteral("synq-bench-seed");
        for (int i = first; i < qMin(rows, first + Protocol::MaxMutationsPerPush); ++i) {
            Protocol::PushMutation m;
            m.id = KeyGenerator::global().next();
            m.tx = m.id;
            m.collection = collection;
            m.op = MutationType::Insert;
            m.key = KeyGenerator::global().next();
            m.baseVersion = 0;
            QVariantMap item = makeItem(i);
            item.insert(QStringLiteral("id"), m.key);
            m.data = QJsonObject::fromVariantMap(item);
            items->append(item);
            request.mutations.append(m);
        }
        request.batch = Protocol::batchId(request.mutations);
        requests.append(request);
    }
    qsizetype next = 0;
    int inFlight = 0;
    QString error;
    std::function<void()> send = [&] {
        while (inFlight < 2 && next < requests.size() && error.isEmpty()) {
            ++inFlight;
            const Protocol::PushRequest &request = requests.at(next++);
            http.push(request, [&](const Protocol::PushResponse &response, const SyncError &e) {
                --inFlight;
                if (e.isError())
                    error = e.toString();
                for (const Protocol::PushResult &r : response.results) {
                    if (r.status != Protocol::PushResult::Applied)
                        error = QStringLiteral("a seed mutation was not applied");
                }
                send();
            });
        }
    };
    send();
    if (!waitFor([&] { return !error.isEmpty() || (inFlight == 0 && next == requests.size()); },
                 600000))
        error = QStringLiteral("seeding timed out");
    if (!error.isEmpty())
        note(QStringLiteral("seeding: %1").arg(error));
    return error.isEmpty();
}

// Every page of a collection's changes fetched over HTTP and dropped: what the server and
// loopback cost, without decoding or applying. Milliseconds, NaN on failure.
double fetchOnlyMs(const QUrl &url, const QString &collection, int pageSize, int *pages)
{
    QNetworkAccessManager nam;
    QString cursor;
    *pages = 0;
    const qint64 t0 = nowNs();
    for (;;) {
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("collection"), collection);
        if (!cursor.isEmpty())
            query.addQueryItem(QStringLiteral("since"),
                               QString::fromLatin1(QUrl::toPercentEncoding(cursor)));
        query.addQueryItem(QStringLiteral("limit"), QString::number(pageSize));
        QUrl target = url.resolved(QUrl(QStringLiteral("/v1/changes")));
        target.setQuery(query);
        QNetworkReply *reply = nam.get(QNetworkRequest(target));
        bool finished = false;
        QObject::connect(reply, &QNetworkReply::finished, reply, [&] { finished = true; });
        if (!waitFor([&] { return finished; }, 60000)) {
            delete reply;
            return std::nan("");
        }
        const QByteArray body = reply->readAll();
        const bool ok = reply->error() == QNetworkReply::NoError;
        delete reply;
        if (!ok)
            return std::nan("");
        ++*pages;
        // Only the cursor and hasMore are looked at (a plain search, no JSON parse).
        const qsizetype at = body.lastIndexOf("\"cursor\":\"");
        if (at < 0)
            return std::nan("");
        const qsizetype start = at + 10;
        cursor = QString::fromUtf8(body.mid(start, body.indexOf('"', start) - start));
        if (!body.contains("\"hasMore\":true"))
            break;
    }
    return msSince(t0);
}

} // namespace

bool runPull(const Options &options, BenchServer *server)
{
    const int rows = options.rows;
    const QString collection = QStringLiteral("pulled");
    const SyncEngine::Durability durability = SyncEngine::Full;
    QVariantList seeded;
    qint64 t0 = nowNs();
    if (!seedServer(server->url(), collection, rows, &seeded))
        return failMeasurement(QStringLiteral("pull"), QStringLiteral("the server could not be seeded"));
    note(QStringLiteral("pull: seeded %1 rows in %2 ms").arg(rows).arg(msSince(t0), 0, 'f', 0));

    QTemporaryDir dir;
    const double rawMs = timeRawBulk(dir.filePath(QStringLiteral("raw.sqlite")), seeded, false, durability);

    SyncEngine engine;
    engine.setAutoSync(false);
    engine.setDurability(durability);
    engine.setDatabasePath(dir.filePath(QStringLiteral("replica.sqlite")));
    HttpTransport http;
    http.setUrl(server->url());
    http.setTimeoutMs(60000);
    CountingTransport counting(&http);
    if (!engine.open())
        return failMeasurement(QStringLiteral("pull"), engine.status()->lastError().toString());
    SyncCollection model(&engine, collection, Fields);
    engine.setTransport(&counting);

    // The event-loop probe: a 1 ms timer; a stall is the longest gap between two ticks.
    qint64 lastTick = 0;
    QList<double> gapsMs;
    QTimer heartbeat;
    heartbeat.setTimerType(Qt::PreciseTimer);
    heartbeat.setInterval(1);
    // SYNQ_BENCH_STALL_TRACE=<ms>: print every gap longer than that with its CLOCK_MONOTONIC
    // span, to line it up with `perf record -k CLOCK_MONOTONIC` samples of the GUI thread.
    bool traceOk = false;
    const int traceMs = qEnvironmentVariableIntValue("SYNQ_BENCH_STALL_TRACE", &traceOk);
    QObject::connect(&heartbeat, &QTimer::timeout, &heartbeat, [&] {
        const qint64 now = nowNs();
        const double gap = double(now - lastTick) / 1e6;
        gapsMs.append(gap);
        if (traceOk && gap > traceMs) {
            timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            const qint64 end = qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
            note(QStringLiteral("stall %1 ms, CLOCK_MONOTONIC %2.%3 to %4.%5")
                         .arg(gap, 0, 'f', 1)
                         .arg((end - (now - lastTick)) / 1000000000)
                         .arg((end - (now - lastTick)) % 1000000000, 9, 10, QLatin1Char('0'))
                         .arg(end / 1000000000)
                         .arg(end % 1000000000, 9, 10, QLatin1Char('0')));
        }
        lastTick = now;
    });
    // The probe's own noise first: its longest gap with nothing else to do (on a virtual
    // machine the scheduler alone can take several milliseconds).
    lastTick = nowNs();
    heartbeat.start();
    idle(1000);
    const double idleGapMs = percentile(gapsMs, 100);
    const int idleOver16 = int(std::count_if(gapsMs.cbegin(), gapsMs.cend(), [](double g) { return g > 16; }));

    qint64 finishedAt = -1;
    qint64 allRowsAt = -1;
    QVariantMap report;
    QObject::connect(&engine, &SyncEngine::syncFinished, &engine, [&](const QVariantMap &r) {
        finishedAt = nowNs();
        report = r;
    });
    QObject::connect(&model, &SyncCollection::countChanged, &model, [&] {
        if (allRowsAt < 0 && model.count() == rows)
            allRowsAt = nowNs();
    });
    gapsMs.clear();
    lastTick = nowNs();
    t0 = nowNs();
    engine.syncNow();
    if (!waitFor([&] { return finishedAt >= 0; }, 900000))
        return failMeasurement(QStringLiteral("pull"), QStringLiteral("no syncFinished within 900 s"));
    heartbeat.stop();
    const SyncError error = report.value(QStringLiteral("error")).value<SyncError>();
    if (error.isError() || model.count() != rows)
        return failMeasurement(QStringLiteral("pull"), QStringLiteral("%1 rows, error %2")
                                                              .arg(model.count())
                                                              .arg(error.toString()));
    const double pullMs = double(finishedAt - t0) / 1e6;
    int pages = 0;
    const double fetchMs = fetchOnlyMs(server->url(), collection, 500, &pages);

    Figure f;
    f.name = QStringLiteral("pull");
    f.kind = Figure::Rate;
    f.value = rows / (pullMs / 1000.0);
    f.unit = QStringLiteral("rows/s");
    f.limit = rows / (rawMs / 1000.0);
    f.target = 4.0; // at least 25% of the raw bulk insert rate
    f.extra = QJsonObject { { QStringLiteral("rows"), rows },
                            { QStringLiteral("durability"), durabilityName(durability) },
                            { QStringLiteral("synq_ms"), pullMs },
                            { QStringLiteral("all_rows_in_model_ms"), double(allRowsAt - t0) / 1e6 },
                            { QStringLiteral("raw_ms"), rawMs },
                            { QStringLiteral("requests"), counting.pulls() },
                            { QStringLiteral("fetch_only_ms"), fetchMs },
                            { QStringLiteral("fetch_only_pages"), pages } };
    emitFigure(f);

    Figure stall;
    stall.name = QStringLiteral("pull_max_stall");
    stall.value = percentile(gapsMs, 100);
    stall.unit = QStringLiteral("ms");
    stall.limit = idleGapMs; // the probe's own longest gap with nothing to do
    stall.target = 16.0;
    stall.targetOnRatio = false;
    stall.extra = QJsonObject {
        { QStringLiteral("rows"), rows },
        { QStringLiteral("probe_interval_ms"), 1 },
        { QStringLiteral("p999_gap_ms"), percentile(gapsMs, 99.9) },
        { QStringLiteral("gaps_over_16ms"),
          int(std::count_if(gapsMs.cbegin(), gapsMs.cend(), [](double g) { return g > 16; })) },
        { QStringLiteral("idle_gaps_over_16ms"), idleOver16 },
        { QStringLiteral("ticks"), int(gapsMs.size()) }
    };
    emitFigure(stall);
    return true;
}

// --- 4. Push -------------------------------------------------------------------------------

namespace {

// The same number of inserts posted as raw HTTP in batches of 500 (the protocol's maximum),
// one after the other: what the server and loopback take. Milliseconds, NaN on failure.
double rawPushMs(const QUrl &url, const QString &collection, int count, int *requests)
{
    QList<QByteArray> bodies;
    for (int first = 0; first < count; first += Protocol::MaxMutationsPerPush) {
        Protocol::PushRequest request;
        for (int i = first; i < qMin(count, first + Protocol::MaxMutationsPerPush); ++i) {
            Protocol::PushMutation m;
            m.id = KeyGenerator::global().next();
            m.tx = m.id;
            m.collection = collection;
            m.key = KeyGenerator::global().next();
            QVariantMap item = makeItem(i);
            item.insert(QStringLiteral("id"), m.key);
            m.data = QJsonObject::fromVariantMap(item);
            request.mutations.append(m);
        }
        request.batch = Protocol::batchId(request.mutations);
        bodies.append(Protocol::encodePushRequest(request));
    }
    *requests = int(bodies.size());
    QNetworkAccessManager nam;
    QNetworkRequest target(url.resolved(QUrl(QStringLiteral("/v1/push"))));
    target.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    const qint64 t0 = nowNs();
    for (const QByteArray &body : std::as_const(bodies)) {
        QNetworkReply *reply = nam.post(target, body);
        bool finished = false;
        QObject::connect(reply, &QNetworkReply::finished, reply, [&] { finished = true; });
        const bool ok = waitFor([&] { return finished; }, 60000)
                && reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() == 200;
        reply->readAll();
        delete reply;
        if (!ok)
            return std::nan("");
    }
    return msSince(t0);
}

} // namespace

bool runPush(const Options &options, BenchServer *server)
{
    const int count = options.pushes;
    QTemporaryDir dir;
    SyncEngine engine;
    engine.setAutoSync(false);
    // The offline edits are made with Normal durability only to keep the set-up short; the
    // push itself runs with the default, Full.
    engine.setDurability(SyncEngine::Normal);
    engine.setDatabasePath(dir.filePath(QStringLiteral("client.sqlite")));
    if (!engine.open())
        return failMeasurement(QStringLiteral("push"), engine.status()->lastError().toString());
    SyncCollection model(&engine, QStringLiteral("pushed"), Fields);
    qint64 t0 = nowNs();
    for (int i = 0; i < count; ++i) {
        if (!model.insert(makeItem(i)))
            return failMeasurement(QStringLiteral("push"), QStringLiteral("insert %1 refused").arg(i));
        if (i % 500 == 0)
            QCoreApplication::processEvents();
    }
    const double setupMs = msSince(t0);
    note(QStringLiteral("push: %1 offline inserts made in %2 ms").arg(count).arg(setupMs, 0, 'f', 0));
    engine.setDurability(SyncEngine::Full);

    HttpTransport http;
    http.setUrl(server->url());
    http.setTimeoutMs(60000);
    CountingTransport counting(&http);
    if (options.pushBatch > 0)
        counting.setBatchSize(options.pushBatch);
    qint64 completedAt = -1;
    qint64 finishedAt = -1;
    QVariantMap report;
    QObject::connect(engine.status(), &SyncStatus::pendingCountChanged, &engine, [&] {
        if (completedAt < 0 && engine.status()->pendingCount() == 0)
            completedAt = nowNs();
    });
    QObject::connect(&engine, &SyncEngine::syncFinished, &engine, [&](const QVariantMap &r) {
        finishedAt = nowNs();
        report = r;
    });
    t0 = nowNs();
    engine.setTransport(&counting);
    engine.syncNow();
    if (!waitFor([&] { return finishedAt >= 0; }, 600000))
        return failMeasurement(QStringLiteral("push"), QStringLiteral("no syncFinished within 600 s"));
    const SyncError error = report.value(QStringLiteral("error")).value<SyncError>();
    if (error.isError() || completedAt < 0 || engine.status()->failedCount() != 0)
        return failMeasurement(QStringLiteral("push"),
                               QStringLiteral("%1 pending, %2 failed, error %3")
                                       .arg(engine.status()->pendingCount())
                                       .arg(engine.status()->failedCount())
                                       .arg(error.toString()));
    const double pushMs = double(completedAt - t0) / 1e6;
    const int pushRequests = counting.pushes();

    int rawRequests = 0;
    const double rawMs = rawPushMs(server->url(), QStringLiteral("rawpushed"), count, &rawRequests);

    Figure f;
    f.name = QStringLiteral("push_offline");
    f.value = pushMs / 1000.0;
    f.unit = QStringLiteral("s");
    f.limit = rawMs / 1000.0;
    f.target = 2.0;
    f.targetOnRatio = false;
    f.extra = QJsonObject { { QStringLiteral("mutations"), count },
                            { QStringLiteral("durability"), QStringLiteral("Full") },
                            { QStringLiteral("batch_size"), counting.batchSize() },
                            { QStringLiteral("requests"), pushRequests },
                            { QStringLiteral("run_ms"), double(finishedAt - t0) / 1e6 },
                            { QStringLiteral("pull_requests_after"), counting.pulls() },
                            { QStringLiteral("raw_requests"), rawRequests },
                            { QStringLiteral("offline_inserts_ms"), setupMs } };
    emitFigure(f);

    Figure r;
    r.name = QStringLiteral("push_requests");
    r.value = pushRequests;
    r.unit = QStringLiteral("requests");
    r.limit = rawRequests; // the fewest the protocol allows (500 mutations per request)
    r.extra = QJsonObject { { QStringLiteral("mutations"), count },
                            { QStringLiteral("batch_size"), counting.batchSize() } };
    emitFigure(r);
    return true;
}

// --- 5. Cold open --------------------------------------------------------------------------

bool runColdOpen(const Options &options)
{
    const std::shared_ptr<Fixture> f = fixture(options.rows);
    if (!f)
        return failMeasurement(QStringLiteral("cold_open"), QStringLiteral("no fixture"));
    QList<double> synq;
    QList<double> synqOpen;
    QList<double> synqFetchAll;
    QList<double> raw;
    QList<double> rawFull;
    QList<double> rawScan;
    int firstCount = 0;
    for (int run = 0; run < options.coldRuns; ++run) {
        QJsonObject s;
        QJsonObject r;
        if (!runChild(options, QStringLiteral("cold-open-synq"), f->path, &s)
            || !runChild(options, QStringLiteral("cold-open-raw"), f->path, &r))
            return failMeasurement(QStringLiteral("cold_open"), QStringLiteral("a child failed"));
        if (s.value(QStringLiteral("count")).toInt() != f->rows)
            return failMeasurement(QStringLiteral("cold_open"), QStringLiteral("the model has %1 rows")
                                                                      .arg(s.value(QStringLiteral("count")).toInt()));
        synq.append(s.value(QStringLiteral("first_rows_ms")).toDouble());
        synqOpen.append(s.value(QStringLiteral("open_ms")).toDouble());
        synqFetchAll.append(s.value(QStringLiteral("fetch_all_ms")).toDouble());
        firstCount = s.value(QStringLiteral("first_count")).toInt();
        raw.append(r.value(QStringLiteral("first_rows_ms")).toDouble());
        rawFull.append(r.value(QStringLiteral("full_load_ms")).toDouble());
        rawScan.append(r.value(QStringLiteral("scan_only_ms")).toDouble());
    }
    Figure fig;
    fig.name = QStringLiteral("cold_open");
    fig.value = median(synq);
    fig.unit = QStringLiteral("ms");
    fig.limit = median(raw);
    fig.target = 50.0;
    fig.targetOnRatio = false;
    fig.extra = QJsonObject { { QStringLiteral("rows"), f->rows },
                              { QStringLiteral("runs"), options.coldRuns },
                              { QStringLiteral("synq_open_returned_ms"), median(synqOpen) },
                              { QStringLiteral("synq_first_rows"), firstCount },
                              { QStringLiteral("synq_fetch_all_ms"), median(synqFetchAll) },
                              { QStringLiteral("raw_full_load_ms"), median(rawFull) },
                              { QStringLiteral("raw_scan_without_decode_ms"), median(rawScan) },
                              { QStringLiteral("file_bytes"), QFileInfo(f->path).size() } };
    emitFigure(fig);
    return true;
}

// --- 6. Memory -----------------------------------------------------------------------------

bool runMemory(const Options &options)
{
    const std::shared_ptr<Fixture> f = fixture(options.rows);
    if (!f)
        return failMeasurement(QStringLiteral("memory"), QStringLiteral("no fixture"));
    QJsonObject s;
    QJsonObject r;
    if (!runChild(options, QStringLiteral("memory-synq"), f->path, &s)
        || !runChild(options, QStringLiteral("memory-raw"), f->path, &r))
        return failMeasurement(QStringLiteral("memory"), QStringLiteral("a child failed"));
    if (s.value(QStringLiteral("count")).toInt() != f->rows)
        return failMeasurement(QStringLiteral("memory"), QStringLiteral("the model has %1 rows")
                                                               .arg(s.value(QStringLiteral("count")).toInt()));
    auto perRow = [&](const QJsonObject &o, const char *field) {
        return (o.value(QLatin1String(field)).toDouble() - double(f->jsonBytes)) / f->rows;
    };
    Figure fig;
    fig.name = QStringLiteral("memory_per_row");
    fig.value = std::round(perRow(s, "heap_bytes"));
    fig.unit = QStringLiteral("bytes/row");
    fig.limit = std::round(perRow(r, "heap_bytes"));
    fig.target = 300.0;
    fig.targetOnRatio = false;
    fig.extra = QJsonObject { { QStringLiteral("rows"), f->rows },
                              { QStringLiteral("json_bytes_per_row"), std::round(double(f->jsonBytes) / f->rows) },
                              { QStringLiteral("synq_heap_bytes"), s.value(QStringLiteral("heap_bytes")) },
                              { QStringLiteral("synq_rss_bytes"), s.value(QStringLiteral("rss_bytes")) },
                              { QStringLiteral("synq_opened_rows"), s.value(QStringLiteral("opened_count")) },
                              { QStringLiteral("synq_opened_heap_bytes"), s.value(QStringLiteral("opened_heap_bytes")) },
                              { QStringLiteral("raw_heap_bytes"), r.value(QStringLiteral("heap_bytes")) },
                              { QStringLiteral("raw_qjsonobject_bytes_per_row"),
                                std::round(perRow(r, "decoded_heap_bytes")) } };
    emitFigure(fig);
    return true;
}

// --- Child processes -----------------------------------------------------------------------

namespace {

void printChildResult(const QJsonObject &result)
{
    std::fputs(QJsonDocument(result).toJson(QJsonDocument::Compact).constData(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// SELECT of the visible rows of "cold", as SyncDatabase::loadItems reads them.
const char *const RowsSql =
        "SELECT ord, key, version, COALESCE(local_data, data) FROM items"
        " WHERE collection = 'cold' AND scope = '' AND local_deleted = 0 AND deleted = 0"
        " AND COALESCE(local_data, data) IS NOT NULL ORDER BY ord";

int coldOpenSynq(const QString &file)
{
    const qint64 t0 = nowNs();
    qint64 firstRows = -1;
    SyncEngine engine;
    engine.setDatabasePath(file);
    SyncCollection model;
    model.setFields(Fields);
    model.setName(QStringLiteral("cold"));
    model.setEngine(&engine);
    auto check = [&] {
        if (firstRows < 0 && model.rowCount() > 0 && model.data(model.index(0), SyncCollection::FirstFieldRole).isValid())
            firstRows = nowNs();
    };
    QObject::connect(&model, &QAbstractItemModel::modelReset, &model, check);
    QObject::connect(&model, &QAbstractItemModel::rowsInserted, &model, check);
    if (!engine.open())
        return 1;
    const qint64 opened = nowNs();
    if (!waitFor([&] { return firstRows >= 0; }, 60000))
        return 1;
    const int firstCount = model.count();
    // The rest, as a view scrolled to the end (or fetchAll()) loads it.
    const qint64 t1 = nowNs();
    model.fetchAll();
    const qint64 allRows = nowNs() - t1;
    printChildResult({ { QStringLiteral("first_rows_ms"), double(firstRows - t0) / 1e6 },
                       { QStringLiteral("open_ms"), double(opened - t0) / 1e6 },
                       { QStringLiteral("first_count"), firstCount },
                       { QStringLiteral("fetch_all_ms"), double(allRows) / 1e6 },
                       { QStringLiteral("count"), model.count() } });
    return 0;
}

int coldOpenRaw(const QString &file)
{
    const qint64 t0 = nowNs();
    int exit = 1;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("raw"));
        db.setDatabaseName(file);
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
        if (db.open()) {
            QSqlQuery q(db);
            bool ok = true;
            for (const QString &pragma : RawSqlite::pragmas(RawSqlite::Synchronous::Full))
                ok = ok && q.exec(pragma);
            // The first screenful: 100 rows, decoded.
            QList<QJsonObject> rows;
            ok = ok && q.exec(QString::fromLatin1(RowsSql) + QStringLiteral(" LIMIT 100"));
            while (ok && q.next())
                rows.append(QJsonDocument::fromJson(q.value(3).toString().toUtf8()).object());
            const qint64 firstRows = nowNs();
            // All of them, as a model that loads everything must.
            const qint64 t1 = nowNs();
            QList<QJsonObject> all;
            ok = ok && q.exec(QString::fromLatin1(RowsSql));
            while (ok && q.next())
                all.append(QJsonDocument::fromJson(q.value(3).toString().toUtf8()).object());
            const qint64 fullLoad = nowNs() - t1;
            // The same scan without decoding: what keeping the JSON text would cost.
            const qint64 t2 = nowNs();
            QList<QByteArray> texts;
            ok = ok && q.exec(QString::fromLatin1(RowsSql));
            while (ok && q.next())
                texts.append(q.value(3).toString().toUtf8());
            const qint64 scanOnly = nowNs() - t2;
            q = QSqlQuery();
            if (ok && !rows.isEmpty()) {
                printChildResult({ { QStringLiteral("first_rows_ms"), double(firstRows - t0) / 1e6 },
                                   { QStringLiteral("full_load_ms"), double(fullLoad) / 1e6 },
                                   { QStringLiteral("scan_only_ms"), double(scanOnly) / 1e6 },
                                   { QStringLiteral("count"), int(all.size()) } });
                exit = 0;
            }
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("raw"));
    return exit;
}

int memorySynq(const QString &file)
{
    SyncEngine engine;
    engine.setDatabasePath(file);
    engine.setAutoSync(false);
    if (!engine.open())
        return 1;
    QCoreApplication::processEvents();
    malloc_trim(0);
    const qint64 heapBefore = heapInUse();
    const qint64 rssBefore = residentBytes();
    SyncCollection model(&engine, QStringLiteral("cold"), Fields);
    QCoreApplication::processEvents();
    const qint64 heapOpened = heapInUse();
    const int openedCount = model.count();
    // Every row held: what a view scrolled to the end, or fetchAll(), leaves in memory.
    model.fetchAll();
    QCoreApplication::processEvents();
    const qint64 heapAfter = heapInUse();
    printChildResult({ { QStringLiteral("heap_bytes"), double(heapAfter - heapBefore) },
                       { QStringLiteral("rss_bytes"), double(residentBytes() - rssBefore) },
                       { QStringLiteral("opened_heap_bytes"), double(heapOpened - heapBefore) },
                       { QStringLiteral("opened_count"), openedCount },
                       { QStringLiteral("count"), model.count() } });
    return 0;
}

// The least a process can hold for the same rows: each row's key and compact JSON text.
// Also, for the analysis, the same rows held as decoded QJsonObjects (what a model that keeps
// every row decoded holds at least).
int memoryRaw(const QString &file)
{
    struct Row
    {
        QString key;
        QByteArray json;
    };
    struct DecodedRow
    {
        QString key;
        QJsonObject data;
    };
    int exit = 1;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("raw"));
        db.setDatabaseName(file);
        if (db.open()) {
            qsizetype expected = 0; // lists reserved exactly, as CollectionStore::reset() does
            {
                QSqlQuery q(db);
                if (q.exec(QStringLiteral("SELECT count(*) FROM (%1)").arg(QString::fromLatin1(RowsSql)))
                    && q.next())
                    expected = q.value(0).toLongLong();
            }
            malloc_trim(0);
            qint64 heapBefore = heapInUse();
            QList<Row> rows;
            {
                QSqlQuery q(db);
                q.setForwardOnly(true);
                rows.reserve(expected);
                if (q.exec(QString::fromLatin1(RowsSql))) {
                    while (q.next()) {
                        // toUtf8() reserves three bytes per UTF-16 unit: keep the exact size.
                        QByteArray json = q.value(3).toString().toUtf8();
                        json.squeeze();
                        rows.append({ q.value(1).toString(), json });
                    }
                }
            }
            const qint64 textBytes = heapInUse() - heapBefore;
            const qsizetype count = rows.size();
            rows.clear();
            rows.squeeze();
            malloc_trim(0);
            heapBefore = heapInUse();
            QList<DecodedRow> decoded;
            decoded.reserve(expected);
            {
                QSqlQuery q(db);
                q.setForwardOnly(true);
                if (q.exec(QString::fromLatin1(RowsSql))) {
                    while (q.next())
                        decoded.append({ q.value(1).toString(),
                                         QJsonDocument::fromJson(q.value(3).toString().toUtf8()).object() });
                }
            }
            const qint64 decodedBytes = heapInUse() - heapBefore;
            printChildResult({ { QStringLiteral("heap_bytes"), double(textBytes) },
                               { QStringLiteral("decoded_heap_bytes"), double(decodedBytes) },
                               { QStringLiteral("count"), int(count) } });
            exit = count == 0 ? 1 : 0;
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("raw"));
    return exit;
}

} // namespace

int childMain(const QString &mode, const QString &file)
{
    if (mode == QLatin1String("cold-open-synq"))
        return coldOpenSynq(file);
    if (mode == QLatin1String("cold-open-raw"))
        return coldOpenRaw(file);
    if (mode == QLatin1String("memory-synq"))
        return memorySynq(file);
    if (mode == QLatin1String("memory-raw"))
        return memoryRaw(file);
    return 2;
}

} // namespace SynqBench
