// SPDX-License-Identifier: BSD-3-Clause
#include "report.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonValue>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace SynqBench {

namespace {

QList<Figure> &emitted()
{
    static QList<Figure> figures;
    return figures;
}

// A number as JSON: 1000 and above rounded to an integer, below that 4 significant digits;
// NaN and infinity (a failed measurement) as null.
QByteArray jsonNumber(double v)
{
    if (!std::isfinite(v))
        return "null";
    // Four significant digits are more than any of these measurements can tell apart.
    if (std::fabs(v) >= 1000 && std::fabs(v) < 1e15)
        return QByteArray::number(qint64(std::llround(v)));
    if (v == std::floor(v))
        return QByteArray::number(qint64(v));
    return QByteArray::number(v, 'g', 4);
}

QByteArray optionalNumber(const std::optional<double> &v)
{
    return v ? jsonNumber(*v) : QByteArray("null");
}

QByteArray jsonString(const QString &s)
{
    // QJsonDocument escapes for us: encode a one-element array and strip the brackets.
    QByteArray array = QJsonDocument(QJsonArray { s }).toJson(QJsonDocument::Compact);
    return array.mid(1, array.size() - 2);
}

QByteArray jsonValue(const QJsonValue &v)
{
    if (v.isDouble())
        return jsonNumber(v.toDouble());
    QByteArray array = QJsonDocument(QJsonArray { v }).toJson(QJsonDocument::Compact);
    return array.mid(1, array.size() - 2);
}

} // namespace

std::optional<double> Figure::ratio() const
{
    if (!limit || !std::isfinite(*limit) || !std::isfinite(value) || *limit <= 0 || value <= 0)
        return std::nullopt;
    return kind == Rate ? *limit / value : value / *limit;
}

std::optional<bool> Figure::pass() const
{
    if (!target)
        return std::nullopt;
    if (targetOnRatio) {
        const std::optional<double> r = ratio();
        return r ? std::optional<bool>(*r <= *target) : std::optional<bool>(false);
    }
    return std::isfinite(value) && value <= *target;
}

QByteArray Figure::toJsonLine() const
{
    const std::optional<bool> p = pass();
    std::optional<double> r = ratio();
    if (r)
        r = std::round(*r * 1000) / 1000;
    QByteArray line = "{\"name\":" + jsonString(name) + ",\"value\":" + jsonNumber(value)
            + ",\"unit\":" + jsonString(unit) + ",\"limit\":" + optionalNumber(limit)
            + ",\"ratio\":" + optionalNumber(r) + ",\"target\":" + optionalNumber(target)
            + ",\"target_on\":" + (target ? jsonString(targetOnRatio ? QStringLiteral("ratio")
                                                                 : QStringLiteral("value"))
                                          : QByteArray("null"))
            + ",\"pass\":" + (p ? QByteArray(*p ? "true" : "false") : QByteArray("null"));
    for (auto it = extra.constBegin(); it != extra.constEnd(); ++it)
        line += "," + jsonString(it.key()) + ":" + jsonValue(it.value());
    line += "}";
    return line;
}

void emitFigure(const Figure &figure)
{
    const QByteArray line = figure.toJsonLine();
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    emitted().append(figure);
}

void printSummary()
{
    std::fprintf(stderr, "\n%-24s %14s %-8s %14s %8s %10s %6s\n", "figure", "value", "unit",
                 "limit", "ratio", "target", "pass");
    for (const Figure &f : std::as_const(emitted())) {
        const std::optional<double> r = f.ratio();
        const std::optional<bool> p = f.pass();
        const QByteArray target = f.target
                ? (f.targetOnRatio ? "ratio<=" : "value<=") + jsonNumber(*f.target)
                : QByteArray("-");
        std::fprintf(stderr, "%-24s %14s %-8s %14s %8s %10s %6s\n", qPrintable(f.name),
                     jsonNumber(f.value).constData(), qPrintable(f.unit),
                     f.limit ? jsonNumber(*f.limit).constData() : "-",
                     r ? QByteArray::number(*r, 'f', 2).constData() : "-", target.constData(),
                     p ? (*p ? "yes" : "NO") : "-");
    }
    std::fflush(stderr);
}

double median(QList<double> samples)
{
    return percentile(std::move(samples), 50);
}

// Nearest-rank percentile.
double percentile(QList<double> samples, double p)
{
    if (samples.isEmpty())
        return std::nan("");
    std::sort(samples.begin(), samples.end());
    const qsizetype rank = qsizetype(std::ceil(p / 100.0 * double(samples.size())));
    return samples.at(qBound<qsizetype>(0, rank - 1, samples.size() - 1));
}

void note(const QString &text)
{
    std::fprintf(stderr, "# %s\n", qPrintable(text));
    std::fflush(stderr);
}

} // namespace SynqBench
