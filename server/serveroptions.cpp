// SPDX-License-Identifier: BSD-3-Clause
#include "serveroptions.h"

#include "protocolrules.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QUrl>
#include <QtCore/QUrlQuery>

#include <algorithm>

namespace Synq {
namespace Server {

namespace {

constexpr qint64 MaxHorizonSeconds = qint64(100) * 366 * 24 * 3600;
constexpr qint64 MaxTokensFileBytes = 16 * 1024 * 1024;

bool isSchemaName(const QString &name)
{
    // The schema name is spliced into two statements (CREATE SCHEMA, SET search_path), so it
    // is held to the identifier rule and quoted as well.
    return isIdentifier(name) && name.size() <= 63;
}

} // namespace

QString DatabaseConfig::describe() const
{
    if (driver == Sqlite)
        return QStringLiteral("sqlite:%1").arg(path);
    QString text = QStringLiteral("postgres://%1@%2:%3/%4").arg(user, host).arg(port).arg(name);
    if (!schema.isEmpty())
        text += QStringLiteral(" (schema %1)").arg(schema);
    return text;
}

bool parseListen(const QString &text, QHostAddress *address, quint16 *port, QString *error)
{
    const qsizetype colon = text.lastIndexOf(QLatin1Char(':'));
    if (colon <= 0) {
        *error = QStringLiteral("--listen wants ADDRESS:PORT (e.g. 127.0.0.1:8080), not \"%1\"")
                         .arg(text);
        return false;
    }
    QString host = text.left(colon);
    const QString portText = text.mid(colon + 1);
    if (host.startsWith(QLatin1Char('[')) && host.endsWith(QLatin1Char(']')))
        host = host.mid(1, host.size() - 2);
    else if (host.contains(QLatin1Char(':')))
        host.clear(); // an IPv6 address needs brackets: [::1]:8080
    if (host == QLatin1String("localhost"))
        host = QStringLiteral("127.0.0.1");
    QHostAddress parsed;
    if (host.isEmpty() || !parsed.setAddress(host)) {
        *error = QStringLiteral("--listen: \"%1\" is not an IP address (IPv6 goes in brackets: "
                                "[::1]:8080)")
                         .arg(text.left(colon));
        return false;
    }
    bool ok = false;
    const uint value = portText.toUInt(&ok);
    if (!ok || value > 65535 || portText.startsWith(QLatin1Char('+'))) {
        *error = QStringLiteral("--listen: \"%1\" is not a port number (0 to 65535; 0 picks a "
                                "free port)")
                         .arg(portText);
        return false;
    }
    *address = parsed;
    *port = quint16(value);
    return true;
}

bool parseDatabase(const QString &text, DatabaseConfig *config, QString *error)
{
    DatabaseConfig result;
    if (text.startsWith(QLatin1String("sqlite:"))) {
        result.driver = DatabaseConfig::Sqlite;
        result.path = text.mid(7);
        if (result.path.isEmpty() || result.path == QLatin1String(":memory:")) {
            *error = QStringLiteral("--database sqlite:PATH needs a file path");
            return false;
        }
        *config = result;
        return true;
    }
    const QUrl url(text, QUrl::StrictMode);
    const QString scheme = url.scheme();
    if (!url.isValid()
        || (scheme != QLatin1String("postgres") && scheme != QLatin1String("postgresql"))) {
        *error = QStringLiteral("--database wants sqlite:PATH or "
                                "postgres://user[:password]@host:port/dbname, not \"%1\"")
                         .arg(scheme.isEmpty() ? text.left(40) : scheme + QStringLiteral("://..."));
        return false;
    }
    result.driver = DatabaseConfig::Postgres;
    result.host = url.host(QUrl::FullyDecoded);
    result.user = url.userName(QUrl::FullyDecoded);
    result.password = url.password(QUrl::FullyDecoded);
    result.port = url.port(5432);
    result.name = url.path(QUrl::FullyDecoded).mid(1);
    if (result.host.isEmpty() || result.user.isEmpty() || result.name.isEmpty()
        || result.name.contains(QLatin1Char('/')) || result.port <= 0) {
        *error = QStringLiteral("--database: a PostgreSQL URL needs a user, a host and a database "
                                "name: postgres://user[:password]@host:port/dbname");
        return false;
    }
    QStringList options;
    const QUrlQuery query(url);
    for (const auto &item : query.queryItems(QUrl::FullyDecoded)) {
        if (item.first == QLatin1String("schema")) {
            if (!isSchemaName(item.second)) {
                *error = QStringLiteral("--database: schema \"%1\" is not an identifier")
                                 .arg(item.second);
                return false;
            }
            result.schema = item.second;
            continue;
        }
        // libpq conninfo keywords, passed on as they are (QPSQL joins them with spaces).
        const bool keywordOk = !item.first.isEmpty()
                && std::all_of(item.first.cbegin(), item.first.cend(), [](QChar c) {
                       return (c >= QLatin1Char('a') && c <= QLatin1Char('z'))
                               || c == QLatin1Char('_');
                   });
        const bool valueOk = !item.second.isEmpty()
                && std::none_of(item.second.cbegin(), item.second.cend(), [](QChar c) {
                       return c.isSpace() || c == QLatin1Char(';') || c == QLatin1Char('\'')
                               || c == QLatin1Char('\\');
                   });
        if (!keywordOk || !valueOk) {
            *error = QStringLiteral("--database: cannot use the connection option \"%1\"")
                             .arg(item.first);
            return false;
        }
        options.append(item.first + QLatin1Char('=') + item.second);
    }
    result.connectOptions = options.join(QLatin1Char(';'));
    *config = result;
    return true;
}

bool loadTokens(const QString &path, QHash<QString, QString> *tokens, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("--tokens: cannot read %1: %2").arg(path, file.errorString());
        return false;
    }
    if (file.size() > MaxTokensFileBytes) {
        *error = QStringLiteral("--tokens: %1 is larger than 16 MiB").arg(path);
        return false;
    }
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (parseError.error != QJsonParseError::NoError || !doc.isObject()) {
        *error = QStringLiteral("--tokens: %1 is not a JSON object {\"token\": \"user id\", ...}%2")
                         .arg(path,
                              parseError.error != QJsonParseError::NoError
                                      ? QStringLiteral(" (%1 at offset %2)")
                                                .arg(parseError.errorString())
                                                .arg(parseError.offset)
                                      : QString());
        return false;
    }
    // Messages name entries by position, never by token: tokens stay out of every output.
    QHash<QString, QString> result;
    const QJsonObject object = doc.object();
    int index = 0;
    for (auto it = object.constBegin(); it != object.constEnd(); ++it, ++index) {
        const QString user = it.value().toString();
        if (it.key().isEmpty() || it.key().trimmed() != it.key()) {
            *error = QStringLiteral("--tokens: entry %1 of %2 has an empty token or one with "
                                    "spaces around it")
                             .arg(index + 1)
                             .arg(path);
            return false;
        }
        if (!it.value().isString() || user.isEmpty() || user.size() > MaxIdLength) {
            *error = QStringLiteral("--tokens: the user id of entry %1 of %2 is not a string of "
                                    "1 to %3 characters")
                             .arg(index + 1)
                             .arg(path)
                             .arg(MaxIdLength);
            return false;
        }
        result.insert(it.key(), user);
    }
    *tokens = result;
    return true;
}

ParseResult parseOptions(const QStringList &arguments, ServerOptions *options, QString *message)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
            QStringLiteral("The reference backend of the Synq sync protocol (docs/protocol.md)."));
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    const QCommandLineOption help(QStringList { QStringLiteral("h"), QStringLiteral("help") },
                                  QStringLiteral("Show this help."));
    const QCommandLineOption version(QStringLiteral("version"),
                                     QStringLiteral("Show the version."));
    const QCommandLineOption listen(QStringLiteral("listen"),
                                    QStringLiteral("Address and port to serve on; port 0 picks a "
                                                   "free one (default 127.0.0.1:8080)."),
                                    QStringLiteral("ADDR:PORT"), QStringLiteral("127.0.0.1:8080"));
    const QCommandLineOption database(
            QStringLiteral("database"),
            QStringLiteral("sqlite:PATH or postgres://user[:password]@host:port/dbname[?schema="
                           "NAME] (default sqlite:synq-server.sqlite)."),
            QStringLiteral("URL"), QStringLiteral("sqlite:synq-server.sqlite"));
    const QCommandLineOption tokens(QStringLiteral("tokens"),
                                    QStringLiteral("JSON file {\"token\": \"user id\", ...}; "
                                                   "without it one anonymous user is served."),
                                    QStringLiteral("FILE"));
    const QCommandLineOption serverKeys(
            QStringLiteral("server-assigned-keys"),
            QStringLiteral("Collections whose inserted records get their key from the server."),
            QStringLiteral("COLLECTION,..."));
    const QCommandLineOption horizon(
            QStringLiteral("tombstone-horizon"),
            QStringLiteral("Seconds a deletion stays in the change feed (default 2592000, 30 "
                           "days); older cursors must re-sync."),
            QStringLiteral("SECONDS"), QStringLiteral("2592000"));
    parser.addOptions({ help, version, listen, database, tokens, serverKeys, horizon });

    auto fail = [&](const QString &text) {
        *message = QStringLiteral("synq-server: %1\nTry 'synq-server --help'.").arg(text);
        return ParseResult::Error;
    };
    if (!parser.parse(arguments))
        return fail(parser.errorText());
    if (parser.isSet(help)) {
        *message = parser.helpText();
        return ParseResult::Help;
    }
    if (parser.isSet(version)) {
        *message = QStringLiteral("synq-server %1, protocol 1\n")
                           .arg(QLatin1String(SYNQ_SERVER_VERSION));
        return ParseResult::Version;
    }
    if (!parser.positionalArguments().isEmpty())
        return fail(QStringLiteral("unexpected argument \"%1\"")
                            .arg(parser.positionalArguments().constFirst()));
    for (const QCommandLineOption &single : { listen, database, tokens, horizon }) {
        if (parser.values(single).size() > 1)
            return fail(
                    QStringLiteral("--%1 given more than once").arg(single.names().constLast()));
    }

    ServerOptions result;
    QString error;
    if (!parseListen(parser.value(listen), &result.address, &result.port, &error))
        return fail(error);
    if (!parseDatabase(parser.value(database), &result.database, &error))
        return fail(error);
    if (parser.isSet(tokens)) {
        if (!loadTokens(parser.value(tokens), &result.tokens, &error))
            return fail(error);
        result.requireTokens = true;
    }
    for (const QString &list : parser.values(serverKeys)) {
        for (const QString &name : list.split(QLatin1Char(','))) {
            if (!isIdentifier(name))
                return fail(QStringLiteral("--server-assigned-keys: \"%1\" is not a collection "
                                           "name ([A-Za-z_][A-Za-z0-9_]*, at most 64)")
                                    .arg(name));
            result.serverAssignedKeys.insert(name);
        }
    }
    bool ok = false;
    const QString horizonText = parser.value(horizon);
    result.tombstoneHorizonSeconds = horizonText.toLongLong(&ok);
    if (!ok || result.tombstoneHorizonSeconds < 0
        || result.tombstoneHorizonSeconds > MaxHorizonSeconds
        || horizonText.startsWith(QLatin1Char('+'))) {
        return fail(QStringLiteral("--tombstone-horizon: \"%1\" is not a number of seconds "
                                   "(0 to %2)")
                            .arg(horizonText)
                            .arg(MaxHorizonSeconds));
    }
    *options = result;
    return ParseResult::Ok;
}

} // namespace Server
} // namespace Synq
